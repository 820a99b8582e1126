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

/** What endpoints answer for an API they do not serve: JSON services' and emulators' names for it. */
const MISSING_SERVICE_NAMES = new Set([
  'InvalidAction',
  'UnknownOperationException',
  'NotImplemented',
  'UnsupportedOperation',
]);

/**
 * True when the endpoint does not serve the service asked for at all, as an SQS/SNS/S3 emulator
 * (ElasticMQ, plain fauxqs) answers DynamoDB or EventBridge Scheduler: an unknown action or
 * operation, HTTP 501, or an answer the SDK could not read as that service's protocol (fauxqs
 * answers Scheduler's REST paths with an S3-style XML 404). Real AWS gives none of these for a
 * call its service knows, so one such answer to a probe (`ListTables`) means "not here", never
 * an outage (network errors and 5xx stay `transient`).
 */
export function isServiceMissingError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as AwsErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const code = typeof shape.Code === 'string' ? shape.Code : typeof shape.code === 'string' ? shape.code : '';
  if (MISSING_SERVICE_NAMES.has(name) || MISSING_SERVICE_NAMES.has(code)) return true;
  const status = Number(shape.$metadata?.httpStatusCode ?? shape.$response?.statusCode);
  if (status === 501) return true;
  // The SDK's deserializer failed on the answer: it came from something other than this service.
  return name === 'SyntaxError' && '$response' in shape && Number.isFinite(status);
}

/** What one probe call found out about a service at an endpoint (`probeService`). */
export type ServiceProbe = 'served' | 'missing' | 'unknown';

/**
 * Asks an endpoint whether it serves a service with one cheap call of it (`ListTables`,
 * `ListScheduleGroups`): `served` when it worked, `missing` when the endpoint answered that it
 * does not serve it (`isServiceMissingError`), `unknown` when the call failed otherwise
 * (unreachable, denied, throttled): callers treat that as served, so an outage is handled as one.
 */
export async function probeService(call: () => Promise<unknown>): Promise<ServiceProbe> {
  try {
    await call();
    return 'served';
  } catch (error) {
    return isServiceMissingError(error) ? 'missing' : 'unknown';
  }
}
