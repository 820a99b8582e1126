import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { AWS_LIMITS } from '@tq/contracts';

/** A queue's redrive policy: where its dead letters go, and after how many receives. */
export interface RedrivePolicy {
  deadLetterTargetArn: string;
  /** The DLQ's queue name and owner account, from the ARN. */
  deadLetterQueue: { name: string; account: string | undefined };
  maxReceiveCount: number | undefined;
}

/**
 * Parses the `RedrivePolicy` attribute of a queue (a JSON string; `maxReceiveCount` may come as
 * a number or a string). Undefined when the queue has none or it names no target.
 */
export function parseRedrivePolicy(attribute: string | undefined): RedrivePolicy | undefined {
  if (!attribute) return undefined;
  let parsed: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
  try {
    parsed = JSON.parse(attribute) as typeof parsed;
  } catch {
    return undefined;
  }
  if (typeof parsed.deadLetterTargetArn !== 'string' || parsed.deadLetterTargetArn === '') return undefined;
  const [, , , , account, name] = parsed.deadLetterTargetArn.split(':');
  const count = Number(parsed.maxReceiveCount);
  return {
    deadLetterTargetArn: parsed.deadLetterTargetArn,
    deadLetterQueue: { name: name ?? '', account: account || undefined },
    maxReceiveCount: parsed.maxReceiveCount === undefined || !Number.isFinite(count) ? undefined : count,
  };
}

/** SQS allows 10 message attributes per message (`AWS_LIMITS.sqs.maxMessageAttributes`). */
export const MAX_MESSAGE_ATTRIBUTES = AWS_LIMITS.sqs.maxMessageAttributes;

/**
 * Copies received message attributes into the form a send takes (only `DataType`,
 * `StringValue`, `BinaryValue`), leaving out the names in `drop`, and keeping at most `max`
 * (names in `first` before the others, so routing attributes survive when there are too many).
 */
export function copyMessageAttributes(
  attributes: Readonly<Record<string, MessageAttributeValue>> | undefined,
  options: { drop?: ReadonlySet<string>; max?: number; first?: readonly string[] } = {},
): Record<string, MessageAttributeValue> {
  const first = new Set(options.first ?? []);
  const kept = Object.entries(attributes ?? {})
    .filter(([name]) => !options.drop?.has(name))
    .sort(([a], [b]) => Number(first.has(b)) - Number(first.has(a)))
    .slice(0, options.max ?? MAX_MESSAGE_ATTRIBUTES);
  const copy: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of kept) {
    copy[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return copy;
}
