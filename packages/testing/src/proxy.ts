import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A pass-through proxy in front of an endpoint that can hold chosen AWS operations (`startHoldingProxy`). */
export interface HoldingProxy {
  /** `http://127.0.0.1:<port>`: point a client's endpoint (or `TQ_ENDPOINT`) here. */
  readonly url: string;
  /** The AWS operations that reached the proxy, in order (`AmazonSQS.DeleteMessageBatch`, `DynamoDB_20120810.BatchWriteItem`, ...). */
  readonly operations: readonly string[];
  /**
   * Holds from now on every request whose operation (its `X-Amz-Target`) matches: it is neither
   * forwarded nor answered until `release()`. `undefined` holds nothing new.
   */
  hold(operations: RegExp | undefined): void;
  /** Resolves once at least `count` requests are being held. */
  held(count?: number): Promise<void>;
  /** Forwards the held requests (`'forward'`, the default) or drops their connections (`'drop'`). */
  release(how?: 'forward' | 'drop'): void;
  /** Drops what is held and closes the proxy. */
  stop(): Promise<void>;
}

/**
 * Starts an HTTP proxy on loopback in front of `target` that passes every request through, except
 * the operations it is told to hold: a test can stop a process between two of its calls (between
 * a status write and a delete, say) and kill it there, which no timing could do reliably.
 */
export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  let holding: RegExp | undefined;
  const operations: string[] = [];
  let heldRequests: { forward: () => void; drop: () => void }[] = [];
  let waiters: { count: number; wake: () => void }[] = [];
  const forward = (
    method: string,
    path: string,
    headers: Record<string, unknown>,
    body: Buffer,
    out: ServerResponse,
  ) => {
    const url = new URL(path, target);
    const upstream = request(url, { method, headers: { ...headers, host: url.host } }, (answer) => {
      out.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(out);
    });
    upstream.on('error', () => out.destroy());
    upstream.end(body);
  };
  const server: Server = createServer((incoming, out) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const operation = String(incoming.headers['x-amz-target'] ?? `${incoming.method} ${incoming.url}`);
      operations.push(operation);
      const send = () =>
        forward(incoming.method ?? 'GET', incoming.url ?? '/', incoming.headers, Buffer.concat(chunks), out);
      if (holding?.test(operation)) {
        heldRequests.push({ forward: send, drop: () => out.destroy() });
        waiters = waiters.filter((waiter) => {
          if (heldRequests.length < waiter.count) return true;
          waiter.wake();
          return false;
        });
        return;
      }
      send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const release = (how: 'forward' | 'drop' = 'forward') => {
    const released = heldRequests;
    heldRequests = [];
    for (const held of released) held[how]();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    operations,
    hold(pattern) {
      holding = pattern;
    },
    held(count = 1) {
      if (heldRequests.length >= count) return Promise.resolve();
      return new Promise<void>((wake) => waiters.push({ count, wake }));
    },
    release,
    async stop() {
      holding = undefined;
      release('drop');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
