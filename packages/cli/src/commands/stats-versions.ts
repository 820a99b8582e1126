import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { sampleMessages } from '@tq/aws';
import { MESSAGE_ATTRIBUTES } from '@tq/contracts';

/** Which payload versions a sample of a queue holds: count by version (`flat` for unversioned, `unreadable`). */
export interface VersionSample {
  /** Messages read. */
  sampled: number;
  /** How many of the messages read carry each version. */
  counts: Record<string, number>;
}

/** What `tq stats --versions` adds to a task's row. */
export interface TaskVersions {
  queue: VersionSample;
  dlq: VersionSample;
}

/**
 * The payload version a message carries: its `version` attribute, else the envelope's `version`
 * (inside an SNS notification too); `flat` for the seed's flat form (read as the latest version),
 * `unreadable` for a body that is not a task.
 */
export function messageVersion(message: Message): string {
  const attribute = message.MessageAttributes?.[MESSAGE_ATTRIBUTES.version]?.StringValue;
  if (attribute && /^\d+$/.test(attribute)) return attribute;
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
    const notification = body as { Type?: unknown; Message?: unknown };
    if (notification?.Type === 'Notification' && typeof notification.Message === 'string') {
      body = JSON.parse(notification.Message);
    }
  } catch {
    return 'unreadable';
  }
  const record = body as { version?: unknown; task?: unknown } | null;
  if (typeof record?.version === 'number' && Number.isInteger(record.version)) return String(record.version);
  return typeof record?.task === 'string' ? 'flat' : 'unreadable';
}

/** Samples up to `max` messages of a queue (held briefly, then visible again) and counts their versions. */
export async function sampleVersions(sqs: SQSClient, queueUrl: string, max: number): Promise<VersionSample> {
  const messages = await sampleMessages(sqs, queueUrl, { max, holdSeconds: 10, systemAttributes: [] });
  const counts: Record<string, number> = {};
  for (const message of messages) {
    const version = messageVersion(message);
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return { sampled: messages.length, counts };
}

/** `v1 ×12, v2 ×3` (or `-` for an empty sample). */
export function renderVersionSample(sample: VersionSample): string {
  const entries = Object.entries(sample.counts).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  if (entries.length === 0) return '-';
  return entries.map(([version, count]) => `${/^\d+$/.test(version) ? `v${version}` : version} ×${count}`).join(', ');
}

/** The versions table of `tq stats --versions`. */
export function renderVersions(rows: { task: string; versions?: TaskVersions | undefined }[], max: number): string {
  const body = rows
    .filter((row) => row.versions)
    .map((row) => [
      row.task,
      renderVersionSample((row.versions as TaskVersions).queue),
      renderVersionSample((row.versions as TaskVersions).dlq),
    ]);
  const header = ['payload versions', 'queue', 'dlq'];
  const widths = header.map((cell, column) => Math.max(cell.length, ...body.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(header),
    ...body.map(line),
    `(a sample of up to ${max} messages per queue; each read counts one receive toward the queue's maxReceiveCount)`,
  ].join('\n');
}
