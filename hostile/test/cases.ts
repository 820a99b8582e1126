import { createHash, randomUUID } from 'node:crypto';
import type { TaskName } from '@tq/contracts';

/** One hostile message: what a plain SQS client sends to a task queue, and the DLQ code it must end with. */
export interface HostileCase {
  task: TaskName;
  name: string;
  body: string;
  code: string;
}

/** Where the cases point: the artifacts bucket (allowed), a foreign bucket, an allowed bucket that does not exist. */
export interface Places {
  bucket: string;
  foreign: string;
  missingBucket: string;
}

/** Objects the cases need in S3, by bucket and key. */
export interface Fixtures {
  /** 4 MiB of JSON-ish bytes, named by claim checks that say they are 4 bytes. */
  hugeClaim: Buffer;
  notAnImage: Buffer;
  /** A PNG over the suite's pixel limit (a decompression bomb in miniature). */
  pixelBomb: Buffer;
  /** A PNG over the suite's byte limit. */
  noisyImage: Buffer;
  smallImage: Buffer;
}

/** The limits `tq up` is started with for the suite (read by each app from its environment). */
export const SUITE_LIMITS = {
  EMAIL_MAX_ATTACHMENT_BYTES: '100000',
  IMAGE_MAX_BYTES: '200000',
  IMAGE_MAX_PIXELS: '1000000',
  IMAGE_MAX_OUTPUT_PIXELS: '4000000',
  CLEANUP_MAX_BYTES: '100000',
  CLEANUP_MAX_ROWS: '1000',
  CLEANUP_MAX_COLUMNS: '50',
  REPORT_MAX_BYTES: '100000',
  REPORT_MAX_ROWS: '1000',
  REPORT_MAX_COLUMNS: '50',
} as const;

/** The files the cases read, keyed as they are stored in the artifacts bucket (`hostile/...`). */
export function objectsFor(fixtures: Fixtures): Record<string, Buffer | string> {
  return {
    'hostile/huge-claim.json': fixtures.hugeClaim,
    'hostile/notes.jpg': fixtures.notAnImage,
    'hostile/bomb.png': fixtures.pixelBomb,
    'hostile/noisy.png': fixtures.noisyImage,
    'hostile/small.png': fixtures.smallImage,
    'hostile/attachment-60k.bin': Buffer.alloc(60_000, 7),
    'hostile/empty.csv': '',
    'hostile/wide.csv': `${Array.from({ length: 60 }, (_, i) => `c${i}`).join(',')}\n`,
    'hostile/long.csv': `a\n${'1\n'.repeat(1_500)}`,
    'hostile/big.csv': `a,b\n${'0123456789,0123456789\n'.repeat(6_000)}`,
    'hostile/duplicate-header.csv': 'a,a\n1,2\n',
    'hostile/ok.csv': 'region,units\nnorth,1\n',
    'hostile/broken.csv': 'region,units\nnorth,"unclosed\nsouth,2\n',
    'hostile/words.csv': 'region,units\nnorth,many\n',
    'hostile/builtins.csv': 'constructor,toString\nnorth,1\n',
  };
}

/** The foreign bucket's one object: nothing may read it, copy it or mail it. */
export const FOREIGN_SECRET = { key: 'secret.txt', body: 'the launch codes' };

const envelope = (task: string, payload: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: randomUUID(), task, version: 1, createdAt: new Date().toISOString(), payload, ...extra });

function pointer(task: string, uri: string, body: string): string {
  return JSON.stringify({
    id: randomUUID(),
    task,
    version: 1,
    createdAt: new Date().toISOString(),
    claimCheck: { uri, bytes: Buffer.byteLength(body), sha256: createHash('sha256').update(body).digest('hex') },
  });
}

/** Every hostile message of the suite, each body unique. */
export function hostileCases({ bucket, foreign, missingBucket }: Places): HostileCase[] {
  const s3 = (key: string) => `s3://${bucket}/${key}`;
  const secret = `s3://${foreign}/${FOREIGN_SECRET.key}`;
  const mail = (subject: string, extra: Record<string, unknown> = {}) => ({
    to: ['victim@example.com'],
    subject,
    text: 'x',
    ...extra,
  });
  const image = (extra: Record<string, unknown>) => ({
    source: s3('hostile/small.png'),
    destination: s3('out/hostile/'),
    variants: [{ name: 'thumb', width: 8, format: 'png' }],
    ...extra,
  });
  const cleanup = (extra: Record<string, unknown>) => ({
    source: s3('hostile/ok.csv'),
    destination: s3('out/hostile-clean/'),
    rules: {},
    ...extra,
  });
  const report = (extra: Record<string, unknown>) => ({
    title: 'Hostile',
    columns: [{ key: 'region' }, { key: 'units', format: 'number' }],
    aggregates: [{ column: 'units', fn: 'sum' }],
    destination: s3('out/hostile.pdf'),
    source: s3('hostile/ok.csv'),
    ...extra,
  });
  const c = (task: HostileCase['task'], name: string, body: string, code: string): HostileCase => ({
    task,
    name,
    body,
    code,
  });

  return [
    // Any queue: bodies that are not tasks at all.
    c('send_email', 'not JSON', 'not json at all (send_email)', 'INVALID_JSON'),
    c('process_image', 'truncated JSON', '{"task":"process_image","source":', 'INVALID_JSON'),
    c('cleanup_data', 'JSON array', '["cleanup_data"]', 'NOT_AN_OBJECT'),
    c('generate_report', 'JSON string', '"generate_report"', 'NOT_AN_OBJECT'),
    c(
      'send_email',
      'SNS notification around garbage',
      JSON.stringify({ Type: 'Notification', TopicArn: 'arn:aws:sns:us-east-1:000000000000:x', Message: 'garbage' }),
      'INVALID_JSON',
    ),
    c('send_email', 'unknown task', envelope('mine_bitcoin', { how: 'fast' }), 'UNKNOWN_TASK'),
    c('send_email', 'wrong queue', envelope('process_image', image({})), 'WRONG_TASK'),
    c('send_email', 'unsupported version', envelope('send_email', mail('v99'), { version: 99 }), 'UNSUPPORTED_VERSION'),
    c('send_email', 'no task name', '{"to":"a@example.com","subject":"no task"}', 'SCHEMA_VIOLATION'),

    // send_email
    c(
      'send_email',
      'header injection in the subject',
      envelope('send_email', mail('hi\r\nBcc: all@example.com')),
      'SCHEMA_VIOLATION',
    ),
    c(
      'send_email',
      'address with a newline',
      envelope('send_email', { ...mail('newline'), to: ['a@example.com\nb@example.com'] }),
      'SCHEMA_VIOLATION',
    ),
    c(
      'send_email',
      '__proto__ in the flat form',
      '{"task":"send_email","to":"a@example.com","subject":"proto","body":"x","__proto__":{"admin":true}}',
      'SCHEMA_VIOLATION',
    ),
    c(
      'send_email',
      'attachment from a foreign bucket',
      envelope('send_email', mail('foreign', { attachments: [{ filename: 'secret.txt', source: secret }] })),
      'LOCATION_NOT_ALLOWED',
    ),
    c(
      'send_email',
      'attachment key climbing out with ..',
      envelope(
        'send_email',
        mail('dots', { attachments: [{ filename: 'x', source: s3('hostile/../hostile/small.png') }] }),
      ),
      'SCHEMA_VIOLATION',
    ),
    c(
      'send_email',
      'missing attachment',
      envelope('send_email', mail('missing', { attachments: [{ filename: 'x', source: s3('hostile/nothing.bin') }] })),
      'ATTACHMENT_MISSING',
    ),
    c(
      'send_email',
      'attachments over the budget',
      envelope(
        'send_email',
        mail('budget', {
          attachments: [1, 2].map((i) => ({ filename: `${i}.bin`, source: s3('hostile/attachment-60k.bin') })),
        }),
      ),
      'ATTACHMENT_TOO_LARGE',
    ),
    c('send_email', 'claim check in a foreign bucket', pointer('send_email', secret, 'x'), 'LOCATION_NOT_ALLOWED'),
    c(
      'send_email',
      'claim check understating a huge object',
      pointer('send_email', s3('hostile/huge-claim.json'), 'tiny'),
      'CLAIM_CHECK_INVALID',
    ),
    c(
      'send_email',
      'claim check whose object is gone',
      pointer('send_email', s3('tq/claim-checks/gone.json'), 'x'),
      'CLAIM_CHECK_MISSING',
    ),
    c(
      'send_email',
      'malformed claim check',
      JSON.stringify({
        id: randomUUID(),
        task: 'send_email',
        version: 1,
        createdAt: new Date().toISOString(),
        claimCheck: { uri: 'http://x' },
      }),
      'CLAIM_CHECK_INVALID',
    ),
    c(
      'send_email',
      'claim check key with a lone surrogate',
      pointer('send_email', s3('tq/claim-checks/KEY'), 'x').replace('KEY', 'k\\ud800'),
      'INVALID_LOCATION',
    ),

    // process_image
    c(
      'process_image',
      'source in a foreign bucket',
      envelope('process_image', image({ source: secret })),
      'LOCATION_NOT_ALLOWED',
    ),
    c(
      'process_image',
      'destination in a foreign bucket',
      envelope('process_image', image({ destination: `s3://${foreign}/planted/` })),
      'LOCATION_NOT_ALLOWED',
    ),
    c(
      'process_image',
      'destination climbing out with ..',
      envelope('process_image', image({ destination: s3('out/../../') })),
      'SCHEMA_VIOLATION',
    ),
    c(
      'process_image',
      'source is not an image',
      envelope('process_image', image({ source: s3('hostile/notes.jpg') })),
      'IMAGE_INVALID',
    ),
    c(
      'process_image',
      'missing source',
      envelope('process_image', image({ source: s3('hostile/nothing.png') })),
      'SOURCE_MISSING',
    ),
    c(
      'process_image',
      'decompression bomb',
      envelope('process_image', image({ source: s3('hostile/bomb.png') })),
      'IMAGE_TOO_LARGE',
    ),
    c(
      'process_image',
      'source over the byte limit',
      envelope('process_image', image({ source: s3('hostile/noisy.png') })),
      'IMAGE_TOO_LARGE',
    ),
    c(
      'process_image',
      'outputs of 16384×16384 from 64×48',
      envelope(
        'process_image',
        image({
          variants: [
            { name: 'huge', width: 16384, height: 16384, fit: 'fill', withoutEnlargement: false, format: 'png' },
          ],
        }),
      ),
      'OUTPUT_TOO_LARGE',
    ),
    c(
      'process_image',
      'destination bucket that does not exist',
      envelope('process_image', image({ destination: `s3://${missingBucket}/out/` })),
      'DESTINATION_UNWRITABLE',
    ),
    c('process_image', 'no variants', envelope('process_image', image({ variants: [] })), 'SCHEMA_VIOLATION'),

    // cleanup_data
    c(
      'cleanup_data',
      'source in a foreign bucket',
      envelope('cleanup_data', cleanup({ source: secret })),
      'LOCATION_NOT_ALLOWED',
    ),
    c(
      'cleanup_data',
      'destination in a foreign bucket',
      envelope('cleanup_data', cleanup({ destination: `s3://${foreign}/planted/` })),
      'LOCATION_NOT_ALLOWED',
    ),
    c(
      'cleanup_data',
      'source key climbing out with ..',
      envelope('cleanup_data', cleanup({ source: s3('a/../../secret.csv') })),
      'SCHEMA_VIOLATION',
    ),
    c(
      'cleanup_data',
      'empty file',
      envelope('cleanup_data', cleanup({ source: s3('hostile/empty.csv') })),
      'NO_HEADER',
    ),
    c(
      'cleanup_data',
      'too many columns',
      envelope('cleanup_data', cleanup({ source: s3('hostile/wide.csv') })),
      'TOO_MANY_COLUMNS',
    ),
    c(
      'cleanup_data',
      'too many rows',
      envelope('cleanup_data', cleanup({ source: s3('hostile/long.csv') })),
      'TOO_MANY_ROWS',
    ),
    c(
      'cleanup_data',
      'source over the byte limit',
      envelope('cleanup_data', cleanup({ source: s3('hostile/big.csv') })),
      'SOURCE_TOO_LARGE',
    ),
    c(
      'cleanup_data',
      'duplicate header',
      envelope('cleanup_data', cleanup({ source: s3('hostile/duplicate-header.csv') })),
      'INVALID_HEADER',
    ),
    c(
      'cleanup_data',
      'rule on a built-in name the file lacks',
      envelope('cleanup_data', cleanup({ rules: { rename: { constructor: 'x' } } })),
      'UNKNOWN_COLUMN',
    ),
    c(
      'cleanup_data',
      'missing source',
      envelope('cleanup_data', cleanup({ source: s3('hostile/nothing.csv') })),
      'SOURCE_MISSING',
    ),

    // generate_report
    c(
      'generate_report',
      'source in a foreign bucket',
      envelope('generate_report', report({ source: secret })),
      'LOCATION_NOT_ALLOWED',
    ),
    c(
      'generate_report',
      'destination in a foreign bucket',
      envelope('generate_report', report({ destination: `s3://${foreign}/planted.pdf` })),
      'LOCATION_NOT_ALLOWED',
    ),
    c(
      'generate_report',
      'both rows and source',
      envelope('generate_report', report({ rows: [{ region: 'x', units: 1 }] })),
      'SCHEMA_VIOLATION',
    ),
    c(
      'generate_report',
      'malformed CSV',
      envelope('generate_report', report({ source: s3('hostile/broken.csv') })),
      'MALFORMED_CSV',
    ),
    c(
      'generate_report',
      'column named after a built-in the file lacks',
      envelope('generate_report', report({ columns: [{ key: 'valueOf' }] })),
      'MISSING_COLUMN',
    ),
    c(
      'generate_report',
      'built-in columns, but no numbers',
      envelope(
        'generate_report',
        report({
          source: s3('hostile/builtins.csv'),
          columns: [{ key: 'constructor' }],
          aggregates: [{ column: 'constructor', fn: 'sum' }],
        }),
      ),
      'INVALID_DATA',
    ),
    c(
      'generate_report',
      'words where numbers go',
      envelope('generate_report', report({ source: s3('hostile/words.csv') })),
      'INVALID_DATA',
    ),
    c(
      'generate_report',
      'too many columns',
      envelope(
        'generate_report',
        report({ source: s3('hostile/wide.csv'), columns: [{ key: 'c1' }], aggregates: undefined }),
      ),
      'TOO_MANY_COLUMNS',
    ),
    c(
      'generate_report',
      'too many rows',
      envelope(
        'generate_report',
        report({ source: s3('hostile/long.csv'), columns: [{ key: 'a' }], aggregates: undefined }),
      ),
      'TOO_MANY_ROWS',
    ),
    c(
      'generate_report',
      'destination bucket that does not exist',
      envelope('generate_report', report({ destination: `s3://${missingBucket}/r.pdf` })),
      'DESTINATION_UNWRITABLE',
    ),
  ];
}
