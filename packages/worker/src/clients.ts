import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

type HandlerOptions = Parameters<NodeHttpHandler['handle']>[1];

/**
 * An HTTP handler whose every request listens on one abort signal: the receive client's, so
 * shutdown can abort long polls without passing the signal on each call (a call with options
 * of its own would defeat the client's middleware cache).
 */
class AbortableHttpHandler extends NodeHttpHandler {
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal) {
    super();
    this.#signal = signal;
  }

  override handle(request: Parameters<NodeHttpHandler['handle']>[0], options?: HandlerOptions) {
    return super.handle(request, { ...options, abortSignal: options?.abortSignal ?? this.#signal });
  }
}

/** The SQS clients a worker makes for itself when none is injected. */
export interface OwnedSqsClients {
  /** Deletes, visibility changes, dead-letter sends, queue lookups. */
  sqs: SQSClient;
  /** Receives only; aborted by `pollAbort`. */
  receiver: SQSClient;
}

/**
 * Makes the worker's own SQS clients. Both resolve each command's middleware stack once
 * (`cacheMiddleware`) instead of on every call, which takes about a fifth off the client's CPU
 * per call: nobody else holds these clients, so nobody adds middleware to them later, and no
 * call passes per-call options (which would clear the cache). The cached handler shares one
 * context between concurrent calls of a command; what the SDK writes there (resolved endpoint,
 * signing region, the queue URL's host) is the same for every call, as each command goes to one
 * queue. Receives get a client of their own whose requests all carry the poll-abort signal.
 */
export function createOwnedSqsClients(
  settings: ConstructorParameters<typeof SQSClient>[0],
  pollAbort: AbortSignal,
): OwnedSqsClients {
  return {
    sqs: new SQSClient({ ...settings, cacheMiddleware: true }),
    receiver: new SQSClient({
      ...settings,
      cacheMiddleware: true,
      requestHandler: new AbortableHttpHandler(pollAbort),
    }),
  };
}

/** The clients a worker works with, and those of them it made (destroyed when it stops). */
export interface WorkerClients {
  sqs: SQSClient;
  receiver: SQSClient;
  /** Per-call options of receives: the abort signal, when the client was injected. */
  receiveOptions: { abortSignal: AbortSignal } | undefined;
  s3: S3Client;
  owned: { destroy(): void }[];
}

/**
 * The worker's clients: the injected ones as they are (receives then pass the abort signal per
 * call), else its own (`createOwnedSqsClients`, and an S3 client for claim checks).
 */
export function workerClients(
  injected: { sqs?: SQSClient | undefined; s3?: S3Client | undefined },
  settings: NonNullable<ConstructorParameters<typeof SQSClient>[0]> &
    NonNullable<ConstructorParameters<typeof S3Client>[0]>,
  pollAbort: AbortSignal,
): WorkerClients {
  const owned: { destroy(): void }[] = [];
  let sqs: SQSClient;
  let receiver: SQSClient;
  let receiveOptions: { abortSignal: AbortSignal } | undefined;
  if (injected.sqs) {
    sqs = injected.sqs;
    receiver = injected.sqs;
    receiveOptions = { abortSignal: pollAbort };
  } else {
    ({ sqs, receiver } = createOwnedSqsClients(settings, pollAbort));
    owned.push(sqs, receiver);
  }
  const s3 = injected.s3 ?? new S3Client(settings);
  if (!injected.s3) owned.push(s3);
  return { sqs, receiver, receiveOptions, s3, owned };
}
