// Flows: a tree of tasks (chain, group, group + then) as plain JSON, checked whole before
// anything is sent, and planned into the tasks that start at once and those a completion starts.
import { FlowValidationError, type Violation } from './errors.js';
import { TASK_NAME_PATTERN, type TaskRegistry } from './registry.js';

/**
 * What a node's failure does to the flow (its task dead-lettered, or the node failed beneath):
 * - `fail` (default): the enclosing chain or group fails, and with it the flow; nothing after it is sent;
 * - `ignore`: counted as done; its place in the results is `null`;
 * - `continue`: counted as done; its place in the results is `{ error: { task, code, message } }`.
 */
export type FlowFailurePolicy = 'fail' | 'ignore' | 'continue';

/** The failure policies, for checks and help texts. */
export const FLOW_FAILURE_POLICIES: readonly FlowFailurePolicy[] = ['fail', 'ignore', 'continue'];

/** One task of a flow. */
export interface FlowTask {
  task: string;
  payload: unknown;
  /** Default: the task's latest version. */
  version?: number;
  /** Carried in the envelope, as a send's `idempotencyKey`. */
  idempotencyKey?: string;
  onFailure?: FlowFailurePolicy;
}

/** Steps run one after another; each starts when the previous one succeeded and gets its output as input. */
export interface FlowChain {
  chain: FlowNode[];
  onFailure?: FlowFailurePolicy;
}

/**
 * Children run in parallel; with `then` (a chord), `then` starts once after every child ended,
 * with their outputs (in the children's order) as input.
 */
export interface FlowGroup {
  group: FlowNode[];
  then?: FlowNode;
  onFailure?: FlowFailurePolicy;
}

/** A node of a flow: a task, a chain or a group. Also its JSON form. */
export type FlowNode = FlowTask | FlowChain | FlowGroup;

/** How big a flow may be: checked before anything is sent. */
export const FLOW_LIMITS = {
  /** Tasks in one flow, counting every node of every chain and group. */
  maxTasks: 10_000,
  /** Nesting of chains and groups. */
  maxDepth: 32,
} as const;

/**
 * The flow fields of a task's envelope: which flow and node it is, where its input comes from and
 * what its failure does. Workers read it to pass the input to the handler and, once the task
 * ended, to record its outcome and start what comes next.
 */
export interface FlowRef {
  /** The flow's id (a UUID). */
  id: string;
  /** The node's path in the flow: `$`, `$.chain[1]`, `$.group[3]`, `$.then`, nested alike. */
  path: string;
  /** The path whose output is this task's input: a node's, or `<group>.group` for a group's children. */
  input?: string;
  /** Absent: `fail`. */
  onFailure?: FlowFailurePolicy;
  /**
   * The shard of its group's count a child added at run time is counted in; absent: its index
   * divided by the shard size, as for the children a flow starts with.
   */
  shard?: number;
}

/** One task of a planned flow. */
export interface PlannedTask extends FlowTask {
  path: string;
  /** The path whose output is its input (see `FlowRef.input`). */
  input: string | undefined;
  /** Sent when the flow starts; the others are held until what precedes them completes. */
  start: boolean;
}

/** One group of a planned flow: what its fan-in counts. */
export interface PlannedGroup {
  path: string;
  size: number;
  then: boolean;
}

/** A flow checked and laid out: every task with its path and input, every group with its size. */
export interface FlowPlan {
  tasks: PlannedTask[];
  groups: PlannedGroup[];
  /** Failure policies of chains and groups that are not `fail`, by path. */
  policies: Record<string, FlowFailurePolicy>;
}

const TASK_NAME = new RegExp(TASK_NAME_PATTERN);
const NODE_KEYS: Record<'task' | 'chain' | 'group', ReadonlySet<string>> = {
  task: new Set(['task', 'payload', 'version', 'idempotencyKey', 'onFailure']),
  chain: new Set(['chain', 'onFailure']),
  group: new Set(['group', 'then', 'onFailure']),
};

/** A JSON Pointer (`/to/0`) as a JSONPath continuation (`.to[0]`). */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) =>
      /^\d+$/.test(segment)
        ? `[${segment}]`
        : /^[A-Za-z_$][\w$]*$/.test(segment)
          ? `.${segment}`
          : `[${JSON.stringify(segment)}]`,
    )
    .join('');
}

/** Walks a flow's JSON, collecting every violation and, while there are none, the plan. */
class Planner {
  readonly violations: Violation[] = [];
  readonly plan: FlowPlan = { tasks: [], groups: [], policies: {} };
  readonly #registry: TaskRegistry;
  readonly #ancestors = new Set<object>();
  #tooMany = false;

  constructor(registry: TaskRegistry) {
    this.#registry = registry;
  }

  #fail(path: string, message: string): void {
    this.violations.push({ path, message });
  }

  node(value: unknown, path: string, input: string | undefined, start: boolean, depth: number): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.#fail(path, 'must be an object with one of "task", "chain" or "group"');
      return;
    }
    if (this.#ancestors.has(value)) {
      this.#fail(path, 'is one of its own ancestors: a flow is a tree, it cannot contain a cycle');
      return;
    }
    if (depth > FLOW_LIMITS.maxDepth) {
      this.#fail(path, `nests deeper than ${FLOW_LIMITS.maxDepth} chains and groups (FLOW_LIMITS.maxDepth)`);
      return;
    }
    const record = value as Record<string, unknown>;
    const kinds = (['task', 'chain', 'group'] as const).filter((kind) => kind in record);
    if (kinds.length !== 1) {
      this.#fail(
        path,
        kinds.length === 0
          ? 'must have one of "task", "chain" or "group"'
          : `has ${kinds.map((kind) => `"${kind}"`).join(' and ')}: a node is one task, one chain or one group`,
      );
      return;
    }
    const kind = kinds[0] as 'task' | 'chain' | 'group';
    for (const key of Object.keys(record)) {
      if (!NODE_KEYS[kind].has(key)) {
        this.#fail(`${path}.${key}`, `is not a field of a ${kind} node (${[...NODE_KEYS[kind]].join(', ')})`);
      }
    }
    const policy = record.onFailure;
    if (policy !== undefined && !FLOW_FAILURE_POLICIES.includes(policy as FlowFailurePolicy)) {
      this.#fail(`${path}.onFailure`, `must be one of ${FLOW_FAILURE_POLICIES.join(', ')}`);
    }
    this.#ancestors.add(value);
    if (kind === 'task') this.#task(record, path, input, start);
    else {
      if (policy !== undefined && policy !== 'fail') this.plan.policies[path] = policy as FlowFailurePolicy;
      if (kind === 'chain') this.#chain(record, path, input, start, depth);
      else this.#group(record, path, input, start, depth);
    }
    this.#ancestors.delete(value);
  }

  #children(record: Record<string, unknown>, kind: 'chain' | 'group', path: string): unknown[] | undefined {
    const children = record[kind];
    if (!Array.isArray(children) || children.length === 0) {
      this.#fail(`${path}.${kind}`, 'must be a non-empty array of nodes');
      return undefined;
    }
    return children;
  }

  #chain(record: Record<string, unknown>, path: string, input: string | undefined, start: boolean, depth: number) {
    const steps = this.#children(record, 'chain', path);
    let previous = input;
    steps?.forEach((step, index) => {
      const stepPath = `${path}.chain[${index}]`;
      this.node(step, stepPath, previous, start && index === 0, depth + 1);
      previous = stepPath;
    });
  }

  #group(record: Record<string, unknown>, path: string, input: string | undefined, start: boolean, depth: number) {
    const children = this.#children(record, 'group', path);
    children?.forEach((child, index) => {
      this.node(child, `${path}.group[${index}]`, input, start, depth + 1);
    });
    const then = record.then !== undefined;
    if (then) this.node(record.then, `${path}.then`, `${path}.group`, false, depth + 1);
    this.plan.groups.push({ path, size: children?.length ?? 0, then });
  }

  #task(record: Record<string, unknown>, path: string, input: string | undefined, start: boolean): void {
    if (this.plan.tasks.length >= FLOW_LIMITS.maxTasks) {
      if (!this.#tooMany)
        this.#fail(path, `makes the flow larger than ${FLOW_LIMITS.maxTasks} tasks (FLOW_LIMITS.maxTasks)`);
      this.#tooMany = true;
      return;
    }
    const { task, payload, version, idempotencyKey, onFailure } = record;
    const planned: PlannedTask = { path, task: String(task), payload, input, start };
    this.plan.tasks.push(planned);
    if (typeof task !== 'string' || !TASK_NAME.test(task)) {
      this.#fail(`${path}.task`, `must be a task name (${TASK_NAME_PATTERN})`);
      return;
    }
    const definition = this.#registry.get(task);
    if (definition === undefined) {
      this.#fail(`${path}.task`, `"${task}" is not a known task (known: ${this.#registry.names().join(', ')})`);
      return;
    }
    if (version !== undefined) planned.version = version as number;
    if (idempotencyKey !== undefined) planned.idempotencyKey = idempotencyKey as string;
    if (onFailure !== undefined) planned.onFailure = onFailure as FlowFailurePolicy;
    const number = version ?? definition.latestVersion;
    const validator = typeof number === 'number' ? this.#registry.validator(task, number) : undefined;
    if (validator === undefined) {
      this.#fail(
        `${path}.version`,
        `${task} has no version ${String(number)} (${Object.keys(definition.versions).join(', ')})`,
      );
      return;
    }
    for (const violation of validator.violations(payload)) {
      this.#fail(`${path}.payload${pointerToPath(violation.path)}`, violation.message);
    }
  }
}

/**
 * Checks a flow whole and lays it out: every node's shape, every task's name, version and payload
 * (against `registry`), no cycles, at most `FLOW_LIMITS`. Throws `FlowValidationError` listing
 * every violation with its node's path (`$.group[3].payload.to`); nothing is planned from an
 * invalid flow.
 */
export function planFlow(flow: unknown, registry: TaskRegistry): FlowPlan {
  const planner = new Planner(registry);
  planner.node(flow, '$', undefined, true, 0);
  if (planner.violations.length > 0) {
    const tooLarge = planner.violations.some((violation) => violation.message.includes('FLOW_LIMITS'));
    throw new FlowValidationError(tooLarge ? 'FLOW_TOO_LARGE' : 'INVALID_FLOW', 'invalid flow', planner.violations);
  }
  return planner.plan;
}

/** Path segments after `ancestor` (`.chain[1]`, `.group[0]`, `.then`), or undefined when `path` is not beneath it. */
function segmentsBelow(ancestor: string, path: string): string[] | undefined {
  if (path === ancestor) return [];
  if (!path.startsWith(ancestor) || !/^[.[]/.test(path.slice(ancestor.length))) return undefined;
  return path.slice(ancestor.length).match(/\.(?:chain|group)\[\d+\]|\.then/g) ?? [];
}

/**
 * Whether the task at `path` is among the first that run when the node at `node` starts: it is
 * beneath it through first chain steps and group children only (no later chain step, no `then`).
 */
export function startsWith(node: string, path: string): boolean {
  const segments = segmentsBelow(node, path);
  if (segments === undefined) return false;
  return segments.every((segment) => segment.startsWith('.group[') || segment === '.chain[0]');
}

/** What became of one node of a flow, as its fan-in records it. */
export type FlowOutcome =
  | { ok: true; result: unknown }
  | {
      ok: false;
      /** The failed task's type. */
      task?: string;
      /** The path of the task whose failure this is (a chain or group fails with it). */
      at?: string;
      code: string;
      message: string;
      policy: FlowFailurePolicy;
    };

/**
 * The output of a flow path from the outcomes recorded beneath it (by path) and the groups'
 * sizes: a task's result; a chain's last step's output; a group's children's outputs in order
 * (a group with `then`: the `then`'s output); `<group>.group`: the children's outputs. A failed
 * node that was let through is `null` (`ignore`) or `{ error: { task, code, message } }`
 * (`continue`).
 */
export function flowOutput(
  ref: string,
  outcomes: ReadonlyMap<string, FlowOutcome>,
  sizes: ReadonlyMap<string, number>,
): unknown {
  const children = new Map<string, Set<string>>();
  for (const path of outcomes.keys()) {
    let child = path;
    for (let cut = lastSegment(child); cut > 0; cut = lastSegment(child)) {
      const parent = child.slice(0, cut);
      let known = children.get(parent);
      if (known === undefined) {
        known = new Set();
        children.set(parent, known);
      }
      if (known.has(child)) break;
      known.add(child);
      child = parent;
    }
  }
  const groupOutputs = (group: string): unknown[] => {
    const size = sizes.get(group) ?? 0;
    return Array.from({ length: size }, (_, index) => output(`${group}.group[${index}]`));
  };
  const output = (path: string): unknown => {
    const outcome = outcomes.get(path);
    if (outcome !== undefined) {
      if (outcome.ok) return outcome.result;
      if (outcome.policy === 'continue') {
        return {
          error: { ...(outcome.task ? { task: outcome.task } : {}), code: outcome.code, message: outcome.message },
        };
      }
      return null;
    }
    const below = [...(children.get(path) ?? [])];
    if (below.includes(`${path}.then`)) return output(`${path}.then`);
    const steps = below.flatMap((child) => {
      const match = /\.chain\[(\d+)\]$/.exec(child);
      return match ? [Number(match[1])] : [];
    });
    if (steps.length > 0) return output(`${path}.chain[${Math.max(...steps)}]`);
    if (sizes.has(path)) return groupOutputs(path);
    return null;
  };
  return ref.endsWith('.group') ? groupOutputs(ref.slice(0, -'.group'.length)) : output(ref);
}

/** Where a path's last segment starts (0 for `$`). */
function lastSegment(path: string): number {
  const dot = path.lastIndexOf('.');
  return Math.max(dot, 0);
}

/** The parent of a node's path and how the node hangs from it; undefined for the root. */
export function flowParent(
  path: string,
):
  | { parent: string; kind: 'chain'; index: number }
  | { parent: string; kind: 'group'; index: number }
  | { parent: string; kind: 'then' }
  | undefined {
  const cut = lastSegment(path);
  if (cut === 0) return undefined;
  const parent = path.slice(0, cut);
  const segment = path.slice(cut);
  if (segment === '.then') return { parent, kind: 'then' };
  const match = /^\.(chain|group)\[(\d+)\]$/.exec(segment);
  if (!match) throw new Error(`not a flow path: ${path}`);
  return { parent, kind: match[1] as 'chain' | 'group', index: Number(match[2]) };
}
