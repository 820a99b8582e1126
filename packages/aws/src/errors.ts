/**
 * What kind of failure an AWS call ended in. One table for every tq package and app, so the same
 * error is retried (or not) wherever it happens; the package README lists which names fall where.
 *
 * - `not-found`: the queue, topic, bucket, key or upload does not exist. Retrying cannot help.
 * - `forbidden`: this identity may not touch this resource (IAM, bucket or key policy). Retrying
 *   cannot help until someone changes a policy.
 * - `credentials`: the caller's own identity is broken (no credentials, expired token, bad
 *   signature): every call fails alike, whatever the message, so it is the worker's problem,
 *   not the task's. Retried.
 * - `throttled`: the service asked us to slow down. Retried with backoff.
 * - `invalid`: the service rejected the request itself (a client fault such as a bad parameter
 *   or an entity too large): the same request fails again. Not retried.
 * - `aborted`: the call was aborted by our own signal (shutdown, timeout).
 * - `transient`: anything else (server faults, network errors, timeouts): may succeed next time.
 */
export type AwsErrorClass =
  | 'not-found'
  | 'forbidden'
  | 'credentials'
  | 'throttled'
  | 'invalid'
  | 'aborted'
  | 'transient';

/** Error names (or codes) by class; names are matched exactly, after a service prefix such as `AWS.SimpleQueueService.`. */
export const AWS_ERROR_NAMES: Readonly<Record<Exclude<AwsErrorClass, 'invalid' | 'transient'>, readonly string[]>> = {
  'not-found': [
    'NoSuchKey',
    'NoSuchBucket',
    'NoSuchUpload',
    'NotFound',
    'NotFoundException',
    'NonExistentQueue',
    'QueueDoesNotExist',
    'ResourceNotFoundException',
  ],
  forbidden: [
    'AccessDenied',
    'AccessDeniedException',
    'AuthorizationError',
    'AllAccessDisabled',
    'Forbidden',
    'KmsAccessDenied',
    'KMSAccessDeniedException',
    'KMS.AccessDeniedException',
    'KmsDisabled',
    'KMSDisabledException',
  ],
  credentials: [
    'CredentialsProviderError',
    'InvalidClientTokenId',
    'UnrecognizedClientException',
    'InvalidAccessKeyId',
    'SignatureDoesNotMatch',
    'IncompleteSignature',
    'MissingAuthenticationToken',
    'ExpiredToken',
    'ExpiredTokenException',
    'RequestExpired',
    'InvalidSecurity',
  ],
  throttled: [
    'Throttling',
    'ThrottlingException',
    'ThrottledException',
    'RequestThrottled',
    'RequestThrottledException',
    'TooManyRequestsException',
    'SlowDown',
    'RequestLimitExceeded',
    'BandwidthLimitExceeded',
    'ProvisionedThroughputExceededException',
    'KmsThrottled',
    'KMSThrottlingException',
    'OverLimit',
  ],
  aborted: ['AbortError'],
};

const BY_NAME = new Map<string, AwsErrorClass>();
for (const [kind, names] of Object.entries(AWS_ERROR_NAMES) as [AwsErrorClass, readonly string[]][]) {
  for (const name of names) BY_NAME.set(name, kind);
}

function lookup(name: unknown): AwsErrorClass | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  const direct = BY_NAME.get(name);
  if (direct !== undefined) return direct;
  // Query-protocol codes carry a service prefix: `AWS.SimpleQueueService.NonExistentQueue`.
  const dot = name.lastIndexOf('.');
  return dot === -1 ? undefined : BY_NAME.get(name.slice(dot + 1));
}

interface AwsErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { statusCode?: unknown };
}

/**
 * Classifies an error thrown by an AWS SDK v3 call (or by the code around it): by its name or
 * code first (`AWS_ERROR_NAMES`), then by HTTP status (403 forbidden, 404 not found, 429 and 503
 * throttled, other 4xx invalid, except 408 request timeout), else `transient`.
 */
export function classifyAwsError(error: unknown): AwsErrorClass {
  if (typeof error !== 'object' || error === null) return 'transient';
  const shape = error as AwsErrorShape;
  const named = lookup(shape.name) ?? lookup(shape.Code) ?? lookup(shape.code);
  if (named !== undefined) return named;
  const status = Number(shape.$metadata?.httpStatusCode ?? shape.$response?.statusCode);
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429 || status === 503) return 'throttled';
  if (status === 408) return 'transient';
  if ((status >= 400 && status < 500) || shape.$fault === 'client') return 'invalid';
  return 'transient';
}

/** True for the classes a later attempt may get past: `transient`, `throttled` and `credentials`. */
export function isRetryableAwsError(error: unknown): boolean {
  const kind = classifyAwsError(error);
  return kind === 'transient' || kind === 'throttled' || kind === 'credentials';
}
