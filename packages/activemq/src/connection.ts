import { EventEmitter } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { Client, type IFrame, type IMessage, ReconnectionTimeMode, type StompHeaders } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import { type BrokerAddress, parseBrokerUrl } from './url.js';

/** What can go wrong talking to the broker. All but `REJECTED` end with the connection. */
export type BrokerErrorCode =
  /** No connection right now (the broker is down or restarting). */
  | 'NOT_CONNECTED'
  /** The connection ended before the broker confirmed (the send may or may not have been stored). */
  | 'DISCONNECTED'
  /** The broker did not confirm within `receiptTimeoutMs` (the send may still be stored). */
  | 'RECEIPT_TIMEOUT'
  /** The broker answered with an ERROR frame (e.g. not authorised to send there). */
  | 'REJECTED'
  /** `close()` was called. */
  | 'CLOSED';

/** An error of the broker connection; `code` says which. */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly code: BrokerErrorCode;
  constructor(code: BrokerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Whether an error is a `BrokerError` (with one of `codes`, when given). */
export function isBrokerError(error: unknown, ...codes: BrokerErrorCode[]): error is BrokerError {
  return error instanceof BrokerError && (codes.length === 0 || codes.includes(error.code));
}

/** The few logger methods used (a pino logger fits). */
export interface BrokerLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Options of `createBrokerConnection`. */
export interface BrokerConnectionOptions {
  /** `stomp://[user[:password]@]host[:port]` or `stomp+ssl://…`. */
  url: string;
  /** Overrides the URL's user (`ACTIVEMQ_USER`). */
  login?: string;
  /** Overrides the URL's password (`ACTIVEMQ_PASSWORD`). */
  passcode?: string;
  /** First reconnect delay, doubled after each failed attempt up to `maxReconnectDelayMs`. Default 250 ms. */
  reconnectDelayMs?: number;
  /** Default 30 s. */
  maxReconnectDelayMs?: number;
  /** How long a connection attempt may take before it is dropped and tried again. Default 10 s. */
  connectTimeoutMs?: number;
  /** How long a send waits for the broker's receipt. Default 30 s. */
  receiptTimeoutMs?: number;
  /** STOMP heart-beats both ways, in ms (a dead connection is noticed within twice this). Default 10 s; 0 turns them off. */
  heartbeatMs?: number;
  logger?: BrokerLogger;
}

/** A message delivered to a subscription. */
export interface BrokerMessage {
  readonly body: string;
  readonly headers: Readonly<StompHeaders>;
  /**
   * Acknowledges it (subscriptions with `ack: client-individual`). False when the connection it
   * came on has ended: the broker hands it out again by itself, so there is nothing to ack.
   */
  ack(): boolean;
  /** Hands it back to the broker for redelivery; false as for `ack`. */
  nack(): boolean;
}

/** A subscription that lives across reconnects. */
export interface BrokerSubscription {
  readonly destination: string;
  unsubscribe(): void;
}

/** How long `close()` waits for the broker to confirm the DISCONNECT before cutting the socket. */
const CLOSE_TIMEOUT_MS = 3000;

interface PendingReceipt {
  resolve(): void;
  reject(error: BrokerError): void;
  timer: NodeJS.Timeout;
}

interface SubscriptionEntry {
  destination: string;
  headers: StompHeaders;
  onMessage(message: BrokerMessage): void;
  /** The stompjs subscription id on the current connection. */
  id: string | undefined;
}

/** STOMP over TLS for `stomp+ssl://`: the TCP wrapper with a TLS socket under it. */
class TlsWrapper extends TCPWrapper {
  protected override getSocket(port: number, host: string) {
    return tlsConnect({ port, host, servername: host });
  }
}

/** Events of a `BrokerConnection`. */
export interface BrokerConnectionEvents {
  connected: [{ reconnect: boolean; outageMs: number }];
  disconnected: [{ error: string | undefined }];
}

/**
 * One STOMP connection to ActiveMQ that stays up: it reconnects by itself with exponential
 * backoff (from `reconnectDelayMs` to `maxReconnectDelayMs`), re-establishes every subscription
 * on each new connection, and confirms every send with a receipt. A send that has no receipt
 * yet when the connection ends is rejected (`DISCONNECTED`), so the caller never takes an
 * unconfirmed message for a stored one.
 */
export class BrokerConnection extends EventEmitter<BrokerConnectionEvents> {
  readonly address: BrokerAddress;
  readonly #client: Client;
  readonly #receiptTimeoutMs: number;
  readonly #logger: BrokerLogger | undefined;
  readonly #pending = new Map<string, PendingReceipt>();
  readonly #subscriptions = new Set<SubscriptionEntry>();
  #connected = false;
  /** Bumped on every new connection: a message's ack is only valid on the connection it came on. */
  #generation = 0;
  #sequence = 0;
  #everConnected = false;
  #downSince = 0;
  #closed = false;
  #reconnects = 0;
  #lastError: string | undefined;

  constructor(options: BrokerConnectionOptions) {
    super();
    this.address = parseBrokerUrl(options.url);
    this.#receiptTimeoutMs = options.receiptTimeoutMs ?? 30_000;
    this.#logger = options.logger;
    const { host, port, tls } = this.address;
    const login = options.login ?? this.address.login;
    const passcode = options.passcode ?? this.address.passcode;
    const heartbeat = options.heartbeatMs ?? 10_000;
    const reconnectDelay = options.reconnectDelayMs ?? 250;
    this.#client = new Client({
      webSocketFactory: () => (tls ? new TlsWrapper(host, port) : new TCPWrapper(host, port)),
      connectHeaders: {
        ...(login !== undefined ? { login } : {}),
        ...(passcode !== undefined ? { passcode } : {}),
      },
      reconnectDelay,
      reconnectTimeMode: ReconnectionTimeMode.EXPONENTIAL,
      maxReconnectDelay: Math.max(reconnectDelay, options.maxReconnectDelayMs ?? 30_000),
      connectionTimeout: options.connectTimeoutMs ?? 10_000,
      heartbeatIncoming: heartbeat,
      heartbeatOutgoing: heartbeat,
      debug: () => {},
    });
    this.#client.onConnect = () => this.#onConnect();
    this.#client.onWebSocketClose = () => this.#onClose();
    this.#client.onStompError = (frame) => this.#onError(frame);
    this.#client.onWebSocketError = (event: { message?: unknown }) => {
      const cause = event?.message as { message?: string; code?: string } | undefined;
      this.#lastError = cause?.code ?? cause?.message ?? 'socket error';
    };
  }

  /** True while connected (what the bridge's `/readyz` reports). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connections made after the first (each one a recovery from a drop). */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Connects, and keeps reconnecting until `close()`. Returns at once; see `waitConnected`. */
  start(): void {
    if (this.#closed) throw new BrokerError('CLOSED', 'the broker connection was closed');
    this.#downSince = Date.now();
    this.#client.activate();
  }

  /** Resolves once connected (at once when it is); rejects when `signal` aborts or on `close()`. */
  waitConnected(signal?: AbortSignal): Promise<void> {
    if (this.#connected) return Promise.resolve();
    if (this.#closed) return Promise.reject(new BrokerError('CLOSED', 'the broker connection was closed'));
    return new Promise((resolve, reject) => {
      const done = () => {
        this.off('connected', onConnected);
        signal?.removeEventListener('abort', onAbort);
        closed.delete(onClosed);
      };
      const onConnected = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const onClosed = () => {
        done();
        reject(new BrokerError('CLOSED', 'the broker connection was closed'));
      };
      const closed = this.#closeWaiters;
      if (signal?.aborted) return onAbort();
      this.on('connected', onConnected);
      signal?.addEventListener('abort', onAbort, { once: true });
      closed.add(onClosed);
    });
  }

  readonly #closeWaiters = new Set<() => void>();

  /**
   * Sends `body` to `destination` and resolves once the broker confirmed it with a receipt.
   * Persistent by default (`persistent:true`: ActiveMQ has stored it when the receipt comes).
   * A body without NUL characters goes without `content-length`, so JMS consumers get a
   * TextMessage; every other header becomes a JMS property. Rejects with `BrokerError`.
   */
  send(
    destination: string,
    body: string,
    headers: StompHeaders = {},
    options: { persistent?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (!this.#connected) {
      return Promise.reject(
        new BrokerError(
          this.#closed ? 'CLOSED' : 'NOT_CONNECTED',
          `not connected to the broker at ${this.address.display}${this.#lastError ? ` (${this.#lastError})` : ''}`,
        ),
      );
    }
    this.#sequence += 1;
    const receipt = `tq-${this.#generation}-${this.#sequence}`;
    const signal = options.signal;
    return new Promise<void>((resolvePromise, rejectPromise) => {
      const resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolvePromise();
      };
      const reject = (error: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        rejectPromise(error);
      };
      // Aborted while waiting: the broker may still store it (the caller sends again or not).
      const onAbort = () => {
        const pending = this.#pending.get(receipt);
        if (!pending) return;
        this.#pending.delete(receipt);
        clearTimeout(pending.timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        this.#pending.delete(receipt);
        reject(
          new BrokerError(
            'RECEIPT_TIMEOUT',
            `the broker at ${this.address.display} did not confirm the send to ${destination} within ${this.#receiptTimeoutMs} ms`,
          ),
        );
      }, this.#receiptTimeoutMs);
      this.#pending.set(receipt, { resolve, reject, timer });
      this.#client.watchForReceipt(receipt, () => {
        const pending = this.#pending.get(receipt);
        if (!pending) return;
        this.#pending.delete(receipt);
        clearTimeout(pending.timer);
        pending.resolve();
      });
      try {
        this.#client.publish({
          destination,
          body,
          headers: { ...headers, ...(options.persistent === false ? {} : { persistent: 'true' }), receipt },
          skipContentLengthHeader: !body.includes('\0'),
        });
      } catch (error) {
        this.#pending.delete(receipt);
        clearTimeout(timer);
        reject(new BrokerError('DISCONNECTED', `could not send to ${destination}: ${(error as Error).message}`));
      }
    });
  }

  /**
   * Subscribes to `destination` now (when connected) and again on every new connection.
   * `headers` go on the SUBSCRIBE frame: `ack: 'client-individual'` makes each message wait for
   * its `ack()`; `activemq.prefetchSize` bounds how many the broker hands out unacked.
   */
  subscribe(
    destination: string,
    onMessage: (message: BrokerMessage) => void,
    headers: StompHeaders = {},
  ): BrokerSubscription {
    const entry: SubscriptionEntry = { destination, headers, onMessage, id: undefined };
    this.#subscriptions.add(entry);
    if (this.#connected) this.#subscribe(entry);
    return {
      destination,
      unsubscribe: () => {
        this.#subscriptions.delete(entry);
        if (this.#connected && entry.id) {
          try {
            this.#client.unsubscribe(entry.id);
          } catch {
            // the connection just ended: the subscription ended with it
          }
        }
        entry.id = undefined;
      },
    };
  }

  /** Disconnects (after the broker confirmed the DISCONNECT) and stops reconnecting. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#closeWaiters) waiter();
    this.#closeWaiters.clear();
    // A broker that does not answer the DISCONNECT (frozen, or gone without a FIN) is cut off.
    let timer: NodeJS.Timeout | undefined;
    const graceful = this.#client.deactivate().then(() => true);
    const cut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS);
    });
    if (!(await Promise.race([graceful, cut]))) await this.#client.deactivate({ force: true });
    clearTimeout(timer);
    this.#connected = false;
    this.#failPending('CLOSED', 'the broker connection was closed');
  }

  #subscribe(entry: SubscriptionEntry): void {
    const generation = this.#generation;
    const current = () => generation === this.#generation && this.#connected;
    const sub = this.#client.subscribe(
      entry.destination,
      (message: IMessage) => {
        entry.onMessage({
          body: message.body,
          headers: message.headers,
          ack: () => {
            if (!current()) return false;
            message.ack();
            return true;
          },
          nack: () => {
            if (!current()) return false;
            message.nack();
            return true;
          },
        });
      },
      entry.headers,
    );
    entry.id = sub.id;
  }

  #onConnect(): void {
    this.#generation += 1;
    this.#connected = true;
    const reconnect = this.#everConnected;
    const outageMs = Date.now() - this.#downSince;
    if (reconnect) {
      this.#reconnects += 1;
      this.#logger?.info({ broker: this.address.display, outageMs }, 'connected to the broker again');
    } else {
      this.#logger?.info({ broker: this.address.display }, 'connected to the broker');
    }
    this.#everConnected = true;
    this.#lastError = undefined;
    for (const entry of this.#subscriptions) this.#subscribe(entry);
    this.emit('connected', { reconnect, outageMs });
  }

  #onClose(): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    for (const entry of this.#subscriptions) entry.id = undefined;
    this.#failPending(
      'DISCONNECTED',
      `the connection to the broker at ${this.address.display} ended before it confirmed the send`,
    );
    if (wasConnected) {
      this.#downSince = Date.now();
      if (!this.#closed) {
        this.#logger?.warn(
          { broker: this.address.display, err: this.#lastError },
          'lost the broker connection: reconnecting with backoff',
        );
      }
      this.emit('disconnected', { error: this.#lastError });
    }
  }

  #onError(frame: IFrame): void {
    const message = frame.headers.message ?? 'ERROR frame';
    const text = `the broker at ${this.address.display} refused: ${message}${frame.body ? ` (${frame.body.trim().split('\n')[0]})` : ''}`;
    this.#lastError = message;
    const receipt = frame.headers['receipt-id'];
    const pending = receipt ? this.#pending.get(receipt) : undefined;
    if (receipt && pending) {
      this.#pending.delete(receipt);
      clearTimeout(pending.timer);
      pending.reject(new BrokerError('REJECTED', text));
      return;
    }
    this.#logger?.error({ broker: this.address.display, reason: message }, 'the broker sent an error');
  }

  #failPending(code: BrokerErrorCode, message: string): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new BrokerError(code, message));
    }
    this.#pending.clear();
  }
}

/** Creates a broker connection (not connected yet: call `start()`). */
export function createBrokerConnection(options: BrokerConnectionOptions): BrokerConnection {
  return new BrokerConnection(options);
}
