import type { FlowOutcome } from '@tq/contracts';

// The shapes of a flow's records in the status table (see `FlowStore`).

/** Where a flow is in its life. */
export type FlowState = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A task held in the flow until what precedes it completes: sent then exactly as prepared. */
export interface HeldTask {
  path: string;
  /** The task's id (its envelope's). */
  id: string;
  task: string;
  /** The encoded message body (a claim-check pointer when the task went to S3). */
  body: string;
  /** The message attributes, as sent. */
  attributes: Record<string, { DataType: string; StringValue?: string }>;
  route: 'topic' | 'queue';
  bytes: number;
  limit: number;
}

/** What a flow's item says. */
export interface FlowRecord {
  id: string;
  state: FlowState;
  createdAt: string;
  finishedAt?: string;
  /** Tasks in the flow when it started. */
  tasks: number;
  /** What failed the flow. */
  error?: { path: string; code: string; message: string };
}

/** A node's recorded outcome, with what the flow engine needs to resume after a crash. */
export type StoredOutcome = FlowOutcome & {
  /** The task's id, for a task node. */
  id?: string;
  at: string;
  /** What came after it was started (set once it was). */
  continued: boolean;
};

/** A group as its records show it. */
export interface JoinState {
  /** Children still running. */
  open: number;
  /** Children in all (more once children are added at run time). */
  total: number;
  then: boolean;
  /** A child failed with the `fail` policy. */
  failed: boolean;
  /** What follows the group was started. */
  continued: boolean;
}

/** A group's fan-in after one child was counted (or found counted). */
export interface GroupCount {
  /** Whether this call counted the child (false: it was counted before). */
  counted: boolean;
  /** Whether the child's count closed the group (on this call or an earlier delivery's). */
  closed: boolean;
  then: boolean;
  failed: boolean;
  continued: boolean;
}

/** One task of a flow as its task list records it. */
export interface FlowTaskEntry {
  path: string;
  task: string;
  id: string;
}
