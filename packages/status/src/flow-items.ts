import { type AttributeValue, ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { FlowFailurePolicy } from '@tq/contracts';
import type { FlowRecord, FlowState, FlowTaskEntry, HeldTask, JoinState, StoredOutcome } from './flow-types.js';
import { MAX_MESSAGE_CHARS } from './types.js';

// How a flow's records are keyed and read back from their DynamoDB items.

/**
 * Children per shard of a group's count. A group counts its children in shards of this many (an
 * item each, with the set of its ended children), and its shards in its own item: no item takes
 * more than this many updates, nor grows past a few hundred bytes, however large the group, so a
 * chord of 10,000 children is counted at the rate of 100 items, not one.
 */
export const GROUP_SHARD_SIZE = 100;

export const FLOW_KEY = '~flow';
export const joinKey = (path: string) => `~join#${path}`;
export const heldKey = (path: string) => `~held#${path}`;
export const outKey = (path: string) => `~out#${path}`;
export const shardKey = (path: string, shard: number) => `~shard#${path}#${shard}`;
export const tasksKey = (chunk: number) => `~tasks#${String(chunk).padStart(4, '0')}`;

export const cut = (text: string) =>
  text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text;

/** Whether a call failed on its condition (dynalite and AWS name it alike). */
export function conditionFailed(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

export function flowRecord(
  id: string,
  item: Record<string, AttributeValue>,
): FlowRecord & { policies: Record<string, FlowFailurePolicy> } {
  const record: FlowRecord & { policies: Record<string, FlowFailurePolicy> } = {
    id,
    state: (item.state?.S ?? 'running') as FlowState,
    createdAt: item.createdAt?.S ?? '',
    tasks: Number(item.tasks?.N ?? 0),
    policies: JSON.parse(item.policies?.S ?? '{}') as Record<string, FlowFailurePolicy>,
  };
  if (item.finishedAt?.S) record.finishedAt = item.finishedAt.S;
  if (item.error?.S) record.error = JSON.parse(item.error.S) as NonNullable<FlowRecord['error']>;
  return record;
}

export function storedOutcome(item: Record<string, AttributeValue>): StoredOutcome {
  const data = JSON.parse(item.data?.S ?? '{}') as StoredOutcome;
  return { ...data, continued: item.continued?.BOOL === true };
}

/** A group's item as it shows: its children's open count comes from its shards (`shardOpen`). */
export function joinState(item: Record<string, AttributeValue>, shardOpen: number): JoinState {
  return {
    open: shardOpen,
    total: Number(item.total?.N ?? 0),
    then: item.then?.BOOL === true,
    failed: item.failed?.BOOL === true,
    continued: item.continued?.BOOL === true,
  };
}

/** The shard items of `count` children of a group, from shard `first` on (`GROUP_SHARD_SIZE` each). */
export function shardItems(
  flowId: string,
  path: string,
  first: number,
  count: number,
  expiresAt: AttributeValue,
): Record<string, AttributeValue>[] {
  const items: Record<string, AttributeValue>[] = [];
  for (let offset = 0; offset < count; offset += GROUP_SHARD_SIZE) {
    const size = { N: String(Math.min(GROUP_SHARD_SIZE, count - offset)) };
    const step = shardKey(path, first + offset / GROUP_SHARD_SIZE);
    items.push({ id: { S: flowId }, step: { S: step }, open: size, size, expiresAt });
  }
  return items;
}

/** Task-list items hold this many entries each (an item holds at most 400 KB). */
const TASKS_PER_ITEM = 1_000;

/** What a new flow is written from. */
export interface NewFlow {
  id: string;
  createdAt: string;
  groups: readonly { path: string; size: number; then: boolean }[];
  held: readonly HeldTask[];
  tasks: readonly FlowTaskEntry[];
  policies: Readonly<Record<string, FlowFailurePolicy>>;
}

/** A new flow's items: the flow, its groups' counts, the tasks held for later, its task list. */
export function newFlowItems(flow: NewFlow, expiresAt: AttributeValue): Record<string, AttributeValue>[] {
  const key = (step: string) => ({ id: { S: flow.id }, step: { S: step } });
  const items: Record<string, AttributeValue>[] = [
    {
      ...key(FLOW_KEY),
      state: { S: 'running' },
      createdAt: { S: flow.createdAt },
      tasks: { N: String(flow.tasks.length) },
      policies: { S: JSON.stringify(flow.policies) },
      expiresAt,
    },
  ];
  for (const group of flow.groups) {
    // The group's open count is of its shards; each shard counts its children.
    const shards = { N: String(Math.ceil(group.size / GROUP_SHARD_SIZE)) };
    const total = { N: String(group.size) };
    items.push({ ...key(joinKey(group.path)), open: shards, shards, total, then: { BOOL: group.then }, expiresAt });
    items.push(...shardItems(flow.id, group.path, 0, group.size, expiresAt));
  }
  for (const task of flow.held) {
    items.push({ ...key(heldKey(task.path)), data: { S: JSON.stringify(task) }, expiresAt });
  }
  for (let chunk = 0; chunk * TASKS_PER_ITEM < flow.tasks.length; chunk += 1) {
    const entries = flow.tasks.slice(chunk * TASKS_PER_ITEM, (chunk + 1) * TASKS_PER_ITEM);
    const data = { S: JSON.stringify(entries.map((entry) => [entry.path, entry.task, entry.id])) };
    items.push({ ...key(tasksKey(chunk)), data, expiresAt });
  }
  return items;
}
