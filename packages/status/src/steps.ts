// What a status item is made of, apart from writing it: steps with their times, the timeline
// kept, the artifacts and inputs found in results and payloads, a task type's index key.
import { FINAL_STATES, MAX_TIMELINE_ATTEMPTS, type TaskEvent, type TaskState } from './types.js';

/** Every `s3://` URI in a value (the outputs a handler reports), at most 50. */
export function findArtifacts(value: unknown, found = new Set<string>(), depth = 0): string[] {
  if (found.size >= 50 || depth > 8) return [...found];
  if (typeof value === 'string') {
    if (/^s3:\/\/[^/\s]+\/\S*$/.test(value)) found.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) findArtifacts(item, found, depth + 1);
  } else if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) findArtifacts(item, found, depth + 1);
  }
  return [...found];
}

/**
 * The steps that join the timeline: all of them for the first `MAX_TIMELINE_ATTEMPTS` attempts,
 * then only final ones, so a task redelivered hundreds of times keeps a bounded item (DynamoDB
 * items hold at most 400 KB); its state and attempt count stay current either way.
 */
export function timelineSteps(events: TaskEvent[]): TaskEvent[] {
  return events.filter((step) => step.attempt <= MAX_TIMELINE_ATTEMPTS || FINAL_STATES.includes(step.state));
}

/** The key (`id`) of a task type's index items: `#` never starts a task id (a UUID). */
export function recentKey(task: string): string {
  return `#recent#${task}`;
}

/** One finished task as a task type's index item lists it. */
export interface RecentEntry {
  id: string;
  state: TaskState;
  finishedAt: string;
}

/** Payload fields that name what a task reads: URIs beneath them are inputs, not outputs. */
const INPUT_KEYS = new Set(['source', 'sources', 'input', 'inputs', 'attachments']);

/**
 * The `s3://` URIs a payload reads (beneath `source`, `sources`, `input`, `inputs`,
 * `attachments`): listed in a result, they are not the task's artifacts. A destination the
 * payload names (a report's PDF key) stays an artifact.
 */
export function findInputs(payload: unknown, depth = 0): string[] {
  if (typeof payload !== 'object' || payload === null || depth > 8) return [];
  const found = new Set<string>();
  for (const [key, value] of Object.entries(payload)) {
    const uris = INPUT_KEYS.has(key) ? findArtifacts(value) : findInputs(value, depth + 1);
    for (const uri of uris) found.add(uri);
  }
  return [...found];
}

/** The state a step records, for callers building events. */
export function event(
  state: TaskState,
  attempt: number,
  extra?: Omit<TaskEvent, 'state' | 'attempt' | 'at'>,
  at: string = isoTime(),
): TaskEvent {
  const step: TaskEvent = { state, attempt, at };
  return extra === undefined ? step : Object.assign(step, extra);
}

let lastMs = Number.NaN;
let lastIso = '';
/**
 * `new Date(ms).toISOString()`, kept for the millisecond: a busy worker stamps several steps in
 * each (received, running and succeeded of quick tasks), and formatting a date costs more than
 * the rest of recording a step.
 */
export function isoTime(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
