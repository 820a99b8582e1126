import { TaskDefinitionError } from './errors.js';
import { createRegistry, type TaskDefinition, type TaskRegistry } from './registry.js';

/** Worker app names: kebab-case, usable as folder, image and stack names. */
export const WORKER_APP_NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';

/** One worker app of a project: a program that consumes one task type's queue. */
export interface WorkerAppInput {
  /** The task type it consumes (each task type has exactly one worker app). */
  readonly task: string;
  /**
   * The program that runs it, relative to the config file: a TypeScript or JavaScript module that
   * starts the worker when run (`runWorkerApp`). `tq up` runs it with tsx, no build step.
   */
  readonly main: string;
  /** Variables the app always gets (its own settings); the environment can still override them. */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Variables the deployed app reads from a secret, by variable: the secret's name under the
   * prefix (`SMTP_URL: 'smtp-url'` is the Secrets Manager secret `<prefix>/smtp-url`, which the
   * CDK app creates empty for you to set). `tq up` leaves them to the environment.
   */
  readonly secrets?: Readonly<Record<string, string>>;
}

/** A worker app as the config resolved it. */
export interface WorkerApp extends WorkerAppInput {
  readonly name: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
}

/** Secret names: what Secrets Manager allows after the prefix, kept to kebab-case. */
export const SECRET_NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';
/** Environment variable names an app's settings and secrets may have. */
const VARIABLE_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

/** What `defineConfig` takes: the project's task types and its worker apps. */
export interface TqConfigInput<TTasks extends readonly TaskDefinition[] = readonly TaskDefinition[]> {
  /** Every task type of the project (`defineTask`), in the order tools list them. */
  readonly tasks: TTasks;
  /** The project's worker apps by name. */
  readonly workers: Readonly<Record<string, WorkerAppInput>>;
}

/**
 * A project's configuration, checked: its tasks (and a registry of them), its worker apps, and
 * which app consumes which task. What every tq tool reads instead of a list of its own.
 */
export interface TqConfig<TTasks extends readonly TaskDefinition[] = readonly TaskDefinition[]> {
  readonly tasks: TTasks;
  readonly workers: readonly WorkerApp[];
  readonly registry: TaskRegistry;
  /** The worker app that consumes a task type. */
  workerOf(task: string): WorkerApp | undefined;
}

const CONFIG = Symbol.for('@tq/contracts/TqConfig');

/**
 * Declares a project's configuration (`tq.config.ts`'s default export). Throws
 * `TaskDefinitionError` with one line naming the problem and its fix: a task defined twice, a
 * task no worker app consumes, a worker app naming a task that is not defined, a task two apps
 * consume, a task sending a task that is not defined, or a bad app name.
 */
export function defineConfig<const TTasks extends readonly TaskDefinition[]>(
  input: TqConfigInput<TTasks>,
): TqConfig<TTasks> {
  if (!Array.isArray(input?.tasks)) {
    throw new TaskDefinitionError('tasks must be a list of task definitions (defineTask)');
  }
  const registry = createRegistry(input.tasks);
  const names = new Set(registry.names());
  const owner = new Map<string, string>();
  const workers: WorkerApp[] = [];
  for (const [name, app] of Object.entries(input.workers ?? {})) {
    if (!new RegExp(WORKER_APP_NAME_PATTERN).test(name)) {
      throw new TaskDefinitionError(
        `worker app "${name}": its name must match ${WORKER_APP_NAME_PATTERN} (kebab-case)`,
      );
    }
    if (typeof app?.main !== 'string' || app.main === '') {
      throw new TaskDefinitionError(`worker app "${name}" has no main: name the program that runs it`);
    }
    const task = app.task;
    if (typeof task !== 'string' || task === '') {
      throw new TaskDefinitionError(`worker app "${name}" consumes no task: name it with task: '<task name>'`);
    }
    if (!names.has(task)) {
      throw new TaskDefinitionError(
        `worker app "${name}" consumes "${task}", which is not a defined task: add its definition to tasks, or fix the app's task`,
      );
    }
    const other = owner.get(task);
    if (other !== undefined) {
      throw new TaskDefinitionError(
        `task "${task}" is consumed by two worker apps, "${other}" and "${name}": each task has one worker app`,
      );
    }
    owner.set(task, name);
    for (const variable of [...Object.keys(app.environment ?? {}), ...Object.keys(app.secrets ?? {})]) {
      if (!VARIABLE_PATTERN.test(variable)) {
        throw new TaskDefinitionError(
          `worker app "${name}": "${variable}" is not a variable name: use UPPER_SNAKE_CASE`,
        );
      }
    }
    for (const [variable, secret] of Object.entries(app.secrets ?? {})) {
      if (typeof secret !== 'string' || !new RegExp(SECRET_NAME_PATTERN).test(secret)) {
        throw new TaskDefinitionError(
          `worker app "${name}": secret of ${variable} is "${String(secret)}": name it in kebab-case, such as 'smtp-url'`,
        );
      }
      if (app.environment?.[variable] !== undefined) {
        throw new TaskDefinitionError(
          `worker app "${name}": ${variable} is both a setting and a secret: keep it in one of environment and secrets`,
        );
      }
    }
    workers.push({ ...app, name, environment: { ...app.environment }, secrets: { ...app.secrets } });
  }
  for (const definition of input.tasks) {
    if (!owner.has(definition.name)) {
      throw new TaskDefinitionError(
        `task "${definition.name}" has no worker app: add one to workers with task: '${definition.name}'`,
      );
    }
    for (const sent of definition.sends) {
      if (!names.has(sent)) {
        throw new TaskDefinitionError(
          `task "${definition.name}" sends "${sent}", which is not a defined task: define it, or remove it from sends`,
        );
      }
    }
  }
  const byName = new Map(workers.map((app) => [app.name, app]));
  const config: TqConfig<TTasks> = {
    tasks: input.tasks,
    workers,
    registry,
    workerOf: (task) => byName.get(owner.get(task) ?? ''),
  };
  Object.defineProperty(config, CONFIG, { value: true });
  return config;
}

/** True for what `defineConfig` returned, even from another copy of this package. */
export function isTqConfig(value: unknown): value is TqConfig {
  return typeof value === 'object' && value !== null && CONFIG in value;
}
