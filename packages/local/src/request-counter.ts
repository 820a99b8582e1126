/** Requests served by the endpoint, by `service:Action` (`sqs:ReceiveMessage`, `sns:Publish`, `s3:PutObject`). */
export type RequestCounts = Record<string, number>;

/** The parts of an HTTP request that say which AWS call it is. */
export interface RequestFacts {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Counts of requests by `service:Action`; `add` takes one request as an endpoint received it. */
export class RequestCounter {
  #counts: RequestCounts = {};

  /**
   * Counts a request by its `X-Amz-Target` (JSON protocols), its signing service with method and
   * path (S3, EventBridge Scheduler); SNS's query protocol names its action in the form body,
   * given as `formBody` once read (`addForm`).
   */
  add(request: RequestFacts): void {
    const key = restOrJsonAction(request);
    if (key !== undefined) this.#bump(key);
  }

  /** Counts an SNS (query protocol) request once its form body is parsed. */
  addForm(request: RequestFacts, body: unknown): void {
    if (signingService(request) === 'sns') this.#bump(`sns:${formAction(body) ?? 'unknown'}`);
  }

  counts(): RequestCounts {
    return { ...this.#counts };
  }

  reset(): void {
    this.#counts = {};
  }

  #bump(key: string): void {
    this.#counts[key] = (this.#counts[key] ?? 0) + 1;
  }
}

function signingService(request: RequestFacts): string | undefined {
  const authorization = request.headers.authorization;
  return typeof authorization === 'string' ? /\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization)?.[1] : undefined;
}

function restOrJsonAction(request: RequestFacts): string | undefined {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') {
    const [prefix = '', action = 'unknown'] = target.split('.');
    const service = prefix.startsWith('DynamoDB') ? 'dynamodb' : prefix === 'AmazonSQS' ? 'sqs' : prefix.toLowerCase();
    return `${service}:${action}`;
  }
  const service = signingService(request);
  const url = new URL(request.url, 'http://endpoint');
  if (service === 's3') return `s3:${s3Action(request.method, url)}`;
  if (service === 'scheduler') return `scheduler:${schedulerAction(request.method, url.pathname)}`;
  return service === undefined || service === 'sns' ? undefined : `${service}:${request.method}`;
}

/** S3's REST calls as S3 names (and bills) them. */
function s3Action(method: string, url: URL): string {
  const path = url.pathname.split('/').filter(Boolean);
  const object = path.length > 1;
  const query = url.searchParams;
  if (method === 'PUT') return object ? (query.has('partNumber') ? 'UploadPart' : 'PutObject') : 'CreateBucket';
  if (method === 'POST')
    return query.has('uploads')
      ? 'CreateMultipartUpload'
      : query.has('uploadId')
        ? 'CompleteMultipartUpload'
        : query.has('delete')
          ? 'DeleteObjects'
          : 'PostObject';
  if (method === 'DELETE')
    return object ? (query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject') : 'DeleteBucket';
  if (method === 'HEAD') return object ? 'HeadObject' : 'HeadBucket';
  return object ? 'GetObject' : 'ListObjects';
}

function schedulerAction(method: string, path: string): string {
  const one = /^\/schedules\/[^/]+$/.test(path);
  if (method === 'POST') return 'CreateSchedule';
  if (method === 'PUT') return 'UpdateSchedule';
  if (method === 'DELETE') return 'DeleteSchedule';
  return one ? 'GetSchedule' : 'ListSchedules';
}

function formAction(body: unknown): string | undefined {
  if (typeof body === 'string') return new URLSearchParams(body).get('Action') ?? undefined;
  if (typeof body === 'object' && body !== null && typeof (body as { Action?: unknown }).Action === 'string') {
    return (body as { Action: string }).Action;
  }
  return undefined;
}
