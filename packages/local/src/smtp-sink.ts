import { EventEmitter } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** Where in the SMTP dialogue an injected failure answers. */
export type SmtpStage = 'connect' | 'mail' | 'rcpt' | 'data';

/** An injected SMTP failure: reply `code message` at `stage`, for the next `times` attempts. */
export interface SmtpFailure {
  /** e.g. 451 (temporary) or 550 (permanent). */
  code: number;
  message?: string;
  /** Default `data`: the message is refused after it was transferred. */
  stage?: SmtpStage;
  /** How many attempts fail before the sink accepts again (default 1). */
  times?: number;
}

/** One accepted message. */
export interface ReceivedMail {
  /** 1, 2, ... in the order the sink accepted them. */
  readonly seq: number;
  readonly envelope: { from: string | undefined; to: string[] };
  /** The message exactly as transferred. */
  readonly raw: Buffer;
  readonly parsed: ParsedMail;
  /** The `.eml` file, when the sink keeps files. */
  readonly file: string | undefined;
}

/** Options for `startSmtpSink`. */
export interface SmtpSinkOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Keep each accepted message as `<dir>/<seq>-<message-id>.eml`. */
  dir?: string;
  /** Largest accepted message in bytes (default 25 MiB), advertised with SIZE. */
  maxBytes?: number;
}

/** A running SMTP sink. */
export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`: what `SMTP_URL` should be set to. */
  readonly url: string;
  readonly port: number;
  /** Every accepted message, in order. */
  readonly messages: readonly ReceivedMail[];
  /** Makes the next attempts fail as described. Failures queue up in order. */
  fail(failure: SmtpFailure): void;
  /** Resolves once `count` messages matching `where` have been accepted (those already in count). */
  waitFor(
    count: number,
    options?: { where?: (mail: ReceivedMail) => boolean; timeoutMs?: number },
  ): Promise<ReceivedMail[]>;
  /** Calls `listener` for every accepted message; returns a function that stops listening. */
  onMessage(listener: (mail: ReceivedMail) => void): () => void;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type SmtpError = Error & { responseCode?: number };

/**
 * Starts a real SMTP server that accepts every message (no auth, no TLS), parses it with
 * mailparser and records it, and that can be told to answer 4xx/5xx at any stage.
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const failures: Required<SmtpFailure>[] = [];
  const events = new EventEmitter();
  const maxBytes = options.maxBytes ?? 25 * 1024 * 1024;
  if (options.dir) await mkdir(options.dir, { recursive: true });

  const injected = (stage: SmtpStage): SmtpError | undefined => {
    const next = failures[0];
    if (!next || next.stage !== stage) return undefined;
    next.times -= 1;
    if (next.times <= 0) failures.shift();
    return Object.assign(new Error(next.message), { responseCode: next.code });
  };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: maxBytes,
    onConnect(_session, callback) {
      callback(injected('connect') ?? null);
    },
    onMailFrom(_address, _session, callback) {
      callback(injected('mail') ?? null);
    },
    onRcptTo(_address, _session, callback) {
      callback(injected('rcpt') ?? null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const failure = injected('data');
        if (failure) return callback(failure);
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          return callback(
            Object.assign(new Error('message exceeds fixed maximum message size'), { responseCode: 552 }),
          );
        }
        const raw = Buffer.concat(chunks);
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined;
        const to = session.envelope.rcptTo.map((recipient) => recipient.address);
        simpleParser(raw)
          .then(async (parsed) => {
            const seq = messages.length + 1;
            let file: string | undefined;
            if (options.dir) {
              const id = (parsed.messageId ?? 'message').replace(/[^A-Za-z0-9@._-]/g, '');
              file = join(options.dir, `${String(seq).padStart(5, '0')}-${id}.eml`);
              await writeFile(file, raw);
            }
            const mail: ReceivedMail = { seq, envelope: { from, to }, raw, parsed, file };
            messages.push(mail);
            events.emit('message', mail);
            callback();
          })
          .catch(callback);
      });
    },
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Errors on individual connections (clients that hang up) must not crash the test process.
  server.on('error', () => {});
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= new Promise<void>((resolve) => server.close(() => resolve()));
    return stopped;
  };

  return {
    url: `smtp://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    messages,
    fail(failure) {
      failures.push({ message: 'injected failure', stage: 'data', times: 1, ...failure });
    },
    onMessage(listener) {
      events.on('message', listener);
      return () => events.off('message', listener);
    },
    waitFor(count, { where = () => true, timeoutMs = 60_000 } = {}) {
      const matching = () => messages.filter(where);
      if (matching().length >= count) return Promise.resolve(matching());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off('message', check);
          reject(new Error(`waited for ${count} mails, got ${matching().length}`));
        }, timeoutMs);
        function check() {
          if (matching().length < count) return;
          clearTimeout(timer);
          events.off('message', check);
          resolve(matching());
        }
        events.on('message', check);
      });
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
