import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { FLOW_KEY, flowRecord, joinState, storedOutcome } from './flow-items.js';
import type { FlowRecord, FlowTaskEntry, JoinState, StoredOutcome } from './flow-types.js';

/** Everything recorded about a flow: its item, task list, outcomes, groups and held tasks. */
export interface FlowView {
  flow: FlowRecord;
  tasks: FlowTaskEntry[];
  outcomes: Map<string, StoredOutcome>;
  groups: Map<string, JoinState>;
  /** Paths of tasks held until what precedes them completes. */
  held: Set<string>;
}

/** A flow's items (every `~` item of its partition) as one view. */
export async function readFlowView(
  flowId: string,
  items: AsyncIterable<Record<string, AttributeValue>>,
): Promise<FlowView | undefined> {
  let flow: FlowRecord | undefined;
  const tasks: FlowTaskEntry[] = [];
  const outcomes = new Map<string, StoredOutcome>();
  const groups = new Map<string, JoinState>();
  const joins = new Map<string, Record<string, AttributeValue>>();
  /** Children still open per group, summed over its shards. */
  const open = new Map<string, number>();
  const held = new Set<string>();
  for await (const item of items) {
    const step = item.step?.S ?? '';
    if (step === FLOW_KEY) flow = flowRecord(flowId, item);
    else if (step.startsWith('~tasks#')) {
      for (const [path, task, id] of JSON.parse(item.data?.S ?? '[]') as [string, string, string][]) {
        tasks.push({ path, task, id });
      }
    } else if (step.startsWith('~out#')) outcomes.set(step.slice(5), storedOutcome(item));
    else if (step.startsWith('~join#')) joins.set(step.slice(6), item);
    else if (step.startsWith('~shard#')) {
      const path = step.slice(7, step.lastIndexOf('#'));
      open.set(path, (open.get(path) ?? 0) + Number(item.open?.N ?? 0));
    } else if (step.startsWith('~held#')) held.add(step.slice(6));
  }
  if (flow === undefined) return undefined;
  for (const [path, item] of joins) groups.set(path, joinState(item, open.get(path) ?? 0));
  return { flow, tasks, outcomes, groups, held };
}

/**
 * A flow as JSON for readers (`tq status --json`, the console): its record, each task with its
 * outcome (and whether it waits for what precedes it), each group's count, by path.
 */
export function flowViewJson(view: FlowView) {
  return {
    ...view.flow,
    tasks: view.tasks
      .map((task) => ({ ...task, outcome: view.outcomes.get(task.path), waiting: view.held.has(task.path) }))
      .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true })),
    groups: Object.fromEntries(view.groups),
  };
}
