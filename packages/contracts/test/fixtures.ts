import type { TaskName } from '../src/index.js';

/** One valid payload per task with every optional field set, so each rule can be broken in place. */
export const validPayloads = {
  send_email: {
    to: ['john@example.com', { name: 'Jane Doe', address: 'jane@example.com' }],
    cc: ['carol@example.com'],
    bcc: ['audit@example.com'],
    from: { name: 'tq', address: 'noreply@example.com' },
    replyTo: 'support@example.com',
    subject: 'Welcome to our app',
    text: 'Thank you for signing up!',
    html: '<p>Thank you for signing up!</p>',
    attachments: [
      {
        filename: 'invoice.pdf',
        source: 's3://tq-artifacts/invoices/1.pdf',
        contentType: 'application/pdf',
        contentId: 'invoice-1@tq',
      },
    ],
  },
  process_image: {
    source: 's3://tq-artifacts/uploads/photo.jpg',
    destination: 's3://tq-artifacts/thumbs/',
    variants: [
      {
        name: 'thumb',
        width: 200,
        height: 200,
        fit: 'cover',
        format: 'webp',
        quality: 80,
        withoutEnlargement: true,
        background: '#ffffff',
      },
    ],
    autoOrient: true,
    keepMetadata: false,
  },
  cleanup_data: {
    source: 's3://tq-artifacts/in/customers.csv',
    destination: 's3://tq-artifacts/out/',
    delimiter: ';',
    rules: {
      trim: true,
      dropEmptyRows: true,
      requiredColumns: ['email'],
      dedupe: { keys: ['email'], caseInsensitive: true },
      columns: {
        email: { type: 'email', case: 'lower', nullValues: ['N/A'] },
        signup: { type: 'date', dateFormats: ['DD/MM/YYYY'] },
      },
      rename: { signup: 'signed_up_at' },
      select: ['email', 'signed_up_at'],
      neutralizeFormulas: true,
    },
  },
  generate_report: {
    title: 'Sales',
    subtitle: 'Q3 2026',
    rows: [{ region: 'EU', amount: 10.5, paid: true, note: null }],
    columns: [{ key: 'region', label: 'Region', format: 'text', align: 'left' }],
    groupBy: 'region',
    aggregates: [{ column: 'amount', fn: 'sum', label: 'Total' }],
    chart: { type: 'bar', aggregate: 0, title: 'By region' },
    destination: 's3://tq-artifacts/reports/q3.pdf',
    email: { to: ['boss@example.com'], subject: 'Q3 report', text: 'Attached.' },
  },
  // Every registered task type needs one: a new type without a fixture does not compile.
} as const satisfies { [K in TaskName]: unknown };

export const validEnvelope = {
  id: '0b6a3c52-5d2e-4d61-9a64-3c1c0c6f4f1e',
  task: 'send_email',
  version: 1,
  createdAt: '2026-11-28T10:00:00.000Z',
  idempotencyKey: 'welcome-42',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'congo=t61rcWkgMzE',
  flow: {
    id: '7d1e0c1b-2f4e-4c55-9d0a-5a1b2c3d4e5f',
    path: '$.chain[1].group[2]',
    input: '$.chain[0]',
    onFailure: 'continue',
    shard: 0,
  },
  payload: validPayloads.send_email,
};

/** The seed article's message, verbatim. */
export const seedMessage =
  '{"task": "send_email", "to": "john@example.com", "from": "noreply@example.com", "subject": "Welcome to our app", "body": "Thank you for signing up!"}';
