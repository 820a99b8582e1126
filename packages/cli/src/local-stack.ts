import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEnvironment, type TqEnvironment } from '@tq/contracts';
import { type ActiveMq, type LocalEndpoint, type SmtpSink, startLocalEndpoint, startSmtpSink } from '@tq/local';
import { statusEnabled } from '@tq/status';
import { nextRuns, type ScheduleDefinition } from '@tq/topology';
import { idempotencyTable, provisionStateTables } from './commands/provision.js';
import { type CliContext, contextFor } from './context.js';
import { UsageError } from './errors.js';
import { type AppCommand, localApps, spawnApp, startLocalBroker } from './local-apps.js';
import { loadProject, type Project } from './project.js';
import { convergeSchedules, loadSchedules, schedulesFile } from './schedules.js';
import { probeStateServices, servicesOffLine } from './services.js';

/** Options of the local stack (`tq up`, and `tq demo` when nothing is running). */
export interface LocalStackOptions {
  /** Port of the embedded endpoint (0: a free one). Ignored when `TQ_ENDPOINT` is set. */
  port: number;
  /** Interface of every local listener. */
  host: string;
  /** Port of the SMTP sink (0: a free one). Ignored when `SMTP_URL` is set. */
  smtpPort: number;
  /** Folder the SMTP sink writes each mail to, as an .eml file. */
  mailDir: string;
  /**
   * Folder the embedded endpoint keeps its state in (queues, messages, topics, objects), loaded
   * on start and saved as it changes. Default: memory only.
   */
  dataDir?: string;
  /** Empty `dataDir` before starting. */
  reset?: boolean;
  /** Start the worker apps (default true). */
  workers?: boolean;
  /**
   * STOMP and OpenWire ports of the local ActiveMQ broker, started with the ActiveMQ bridge when
   * `TQ_ACTIVEMQ=1` (and `TQ_ACTIVEMQ_URL` is not set). Default 61613 and 61616; 0 picks free ones.
   */
  activemqPorts?: { stomp: number; openwire: number };
  /**
   * Schedules file (`--schedules`; default `TQ_SCHEDULES`, else `./tq.schedules.json` when it
   * exists): converged with the endpoint's EventBridge Scheduler, which fires them into SNS.
   */
  schedules?: string;
  /** Where log lines go (default stdout). */
  log?: (line: string) => void;
  /** The project whose worker apps run (default: the one `tq.config.ts` from the working directory up names). */
  project?: Project;
}

/** A running local system. */
export interface LocalStack {
  env: TqEnvironment & { endpoint: string };
  /** The SMTP URL the email worker uses. */
  smtpUrl: string;
  /** Where mails are written, when the stack runs its own SMTP sink. */
  mailDir: string | undefined;
  /** Worker apps started, by name. */
  workers: string[];
  /** The project (`tq.config.ts`) it runs. */
  project: Project;
  /** The ActiveMQ broker the bridge forwards to (`TQ_ACTIVEMQ_URL`, or the local one). */
  activemqUrl: string | undefined;
  /** Each worker's `/metrics` URL by task, filled in as the workers start (for the console). */
  metrics: Record<string, string>;
  /** Stops the workers gracefully (each finishes its running tasks), then the sink and endpoint. */
  stop(): Promise<void>;
  /** Kills the workers at once (SIGKILL): their messages come back when their visibility ends. */
  kill(): void;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const SHOWN = ['id', 'attempt', 'code', 'reason', 'durationMs', 'delaySeconds', 'signal', 'http', 'queueUrl'];

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** One pino JSON line as a short human line: time, app, level, message, the telling fields. */
export function formatLogLine(app: string, line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${app.padEnd(8)} ${line}`;
  }
  if (typeof record !== 'object' || record === null || typeof record.msg !== 'string')
    return `${app.padEnd(8)} ${line}`;
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const level = LEVELS[record.level as number] ?? String(record.level);
  const fields = SHOWN.filter((key) => record[key] !== undefined).map((key) => `${key}=${String(record[key])}`);
  const err = record.err as { message?: string } | undefined;
  if (err?.message) fields.push(`err="${err.message.split('\n')[0]}"`);
  if (record.result !== undefined) {
    const result = JSON.stringify(record.result);
    fields.push(`result=${result.length > 240 ? `${result.slice(0, 240)}…` : result}`);
  }
  return `${time} ${app.padEnd(8)} ${level.padEnd(5)} ${record.msg}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** Turns "address in use" into a usage error that names the port and the flag; other errors pass. */
function portTaken(message: string): (error: unknown) => never {
  return (error) => {
    if ((error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE') throw new UsageError(message);
    throw error;
  };
}

/**
 * How the user runs this tq, as a command that works when pasted into a shell in the working
 * directory: the repository's `./tq` script when this CLI runs from a clone (its path when the
 * shell is elsewhere), else the installed `tq` bin.
 */
export function tqCommand(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const script = join(root, 'tq');
  if (!existsSync(script) || !existsSync(join(root, 'pnpm-workspace.yaml'))) return 'tq';
  const rel = relative(process.cwd(), script);
  return rel === 'tq' ? './tq' : script;
}

/**
 * Starts the local system: the embedded SQS/SNS/S3 endpoint (unless `TQ_ENDPOINT` is set),
 * the topology, an SMTP sink that keeps every mail as an .eml file (unless `SMTP_URL` is set),
 * and every worker app as a child process whose logs are prefixed with its name. Every
 * listener binds `host` (127.0.0.1 by default: nothing here has authentication).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const base = readEnvironment();
  // Read and checked first: a bad config or a schedule with a bad payload stops tq up before anything starts.
  const project = options.project ?? (await loadProject());
  const scheduleFile = schedulesFile(options.schedules);
  const schedules = scheduleFile ? await loadSchedules(scheduleFile, project.config.registry) : [];
  let local: LocalEndpoint | undefined;
  let sink: SmtpSink | undefined;
  let broker: ActiveMq | undefined;
  const children: { name: string; child: ChildProcess }[] = [];
  const metrics: Record<string, string> = {};
  const stop = async () => {
    await Promise.all(
      children.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }),
    );
    await sink?.stop();
    await broker?.stop();
    await local?.stop();
  };
  try {
    if (!base.endpoint) local = await startEndpoint(options, base.region);
    const env = { ...base, endpoint: base.endpoint ?? (local?.endpoint as string) };
    const context = contextFor(project, { endpoint: env.endpoint });
    let statusOn: boolean;
    let stateTables: boolean;
    try {
      ({ statusOn, stateTables } = await provisionLocal(context, env, local, { file: scheduleFile, schedules }, log));
    } finally {
      context.close();
    }

    const mail = await startMail(options, log);
    sink = mail.sink;
    const { smtpUrl, mailDir } = mail;

    // The ActiveMQ bridge: with TQ_ACTIVEMQ_URL, to that broker; with TQ_ACTIVEMQ=1, to a local one.
    let activemqUrl = process.env.TQ_ACTIVEMQ_URL || undefined;
    if (!activemqUrl && process.env.TQ_ACTIVEMQ === '1') {
      broker = await startBridgeBroker(options, env.prefix, project, log);
      activemqUrl = broker.stompUrl;
    }

    const workers =
      options.workers === false
        ? []
        : await localApps(project, { activemqUrl, smtpUrl }, log, (name, child) => children.push({ name, child }));
    const appEnv = {
      // The relay and the bridge read the project's tasks from it, as the worker apps do.
      TQ_CONFIG: project.file,
      TQ_ENDPOINT: env.endpoint,
      TQ_PREFIX: env.prefix,
      TQ_BUCKET: env.bucket,
      AWS_REGION: env.region,
      SMTP_URL: smtpUrl,
      EMAIL_FROM: process.env.EMAIL_FROM ?? 'tq <no-reply@tq.local>',
      TQ_HTTP_PORT: process.env.TQ_HTTP_PORT ?? '0',
      TQ_HTTP_HOST: options.host,
      TQ_STATUS: statusOn ? 'on' : 'off',
      ...(stateTables ? {} : { TQ_IDEMPOTENCY: 'off' }),
    };
    for (const app of workers) children.push({ name: app.name, child: spawnWorker(app, appEnv, metrics, log) });
    if (options.workers !== false && workers.length === 0) {
      log(`tq: no worker apps in ${relative(process.cwd(), project.file) || project.file}; queues only`);
    }
    const kill = () => {
      for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      void broker?.kill();
    };
    return {
      env,
      smtpUrl,
      mailDir,
      workers: workers.map((app) => app.name),
      project,
      activemqUrl,
      metrics,
      stop,
      kill,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The embedded endpoint (fauxqs with DynamoDB and the scheduler), with its state kept in `--data`. */
async function startEndpoint(options: LocalStackOptions, region: string): Promise<LocalEndpoint> {
  const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
  if (dataDir && options.reset) await rm(dataDir, { recursive: true, force: true });
  return await startLocalEndpoint({
    port: options.port,
    host: options.host,
    region,
    ...(dataDir ? { dataDir } : {}),
  }).catch(
    portTaken(
      `the endpoint's port ${options.port} on ${options.host} is in use (another tq up?): start with --port <free port> (0 picks one), or point TQ_ENDPOINT at the endpoint already running`,
    ),
  );
}

/** A local ActiveMQ for the bridge (`TQ_ACTIVEMQ=1`), with a queue per task of the project. */
async function startBridgeBroker(
  options: LocalStackOptions,
  prefix: string,
  project: Project,
  log: (line: string) => void,
): Promise<ActiveMq> {
  const ports = options.activemqPorts ?? { stomp: 61613, openwire: 61616 };
  const dataDir = options.dataDir ? join(resolve(options.dataDir), 'activemq') : undefined;
  log('tq: starting ActiveMQ (Java; a few seconds)');
  // A queue per task of the project, there before its first message (tq stats shows them).
  const broker = await startLocalBroker({
    host: options.host,
    ports,
    prefix,
    queues: project.config.registry.names(),
    dataDir,
    log,
  });
  log(`tq: ActiveMQ ${broker.stompUrl} (STOMP), ${broker.openwireUrl} (OpenWire/JMS), destinations ${prefix}.<task>`);
  return broker;
}

/**
 * Starts one app as a child process whose log lines are prefixed with its name; the console
 * reads each worker's throughput from the /metrics its "worker started" line names.
 */
function spawnWorker(
  app: AppCommand,
  env: Record<string, string>,
  metrics: Record<string, string>,
  log: (line: string) => void,
): ChildProcess {
  const noteMetrics = (line: string) => {
    if (!line.includes('"worker started"')) return;
    try {
      const record = JSON.parse(line) as { task?: string; http?: string };
      if (record.task && record.http) metrics[record.task] = `${record.http}/metrics`;
    } catch {
      // not a JSON log line
    }
  };
  return spawnApp(
    app,
    env,
    (line, short) => {
      noteMetrics(line);
      log(formatLogLine(short, line));
    },
    log,
  );
}

/**
 * Provisions the local system on its endpoint: the topology, the state tables where the endpoint
 * serves DynamoDB (status and idempotency are off where it does not, and say so), and the
 * schedules of the schedules file (none without one, on the embedded endpoint). Logs each step.
 */
async function provisionLocal(
  context: CliContext,
  env: TqEnvironment & { endpoint: string },
  local: LocalEndpoint | undefined,
  schedulesFrom: { file: string | undefined; schedules: ScheduleDefinition[] },
  log: (line: string) => void,
): Promise<{ statusOn: boolean; stateTables: boolean }> {
  let statusOn = statusEnabled(true);
  let stateTables = true;
  const changes = await context.provisioner().apply();
  log(`tq: endpoint ${env.endpoint}${local ? ' (embedded)' : ''}, prefix ${env.prefix}, bucket ${env.bucket}`);
  if (local?.dataDir) {
    const { queues = 0, messages = 0, objects = 0 } = local.restored ?? {};
    log(
      `tq: state kept in ${displayPath(local.dataDir)} (${local.restored ? `restored ${queues} queue(s), ${messages} message(s), ${objects} object(s)` : 'new'}; \`tq up --reset\` starts empty)`,
    );
  } else if (local) {
    log('tq: state in memory only: it ends with this process');
  }
  const copies = env.activemq ? ", plus the ActiveMQ bridge's copy queues" : '';
  log(`tq: provisioned topic ${env.prefix}-tasks and a queue + DLQ per task${copies} (${changes.length} change(s))`);
  // An external endpoint may not serve DynamoDB: the system then runs without task status and
  // without idempotency records (the email worker's guard is off, delivery is at least once).
  const services = await probeStateServices(context);
  const off = servicesOffLine(env, services);
  if (off !== undefined) log(`tq: ${off}`);
  if (services.dynamodb === 'missing') {
    statusOn = false;
    stateTables = false;
  } else {
    try {
      await provisionStateTables(context, false);
      log(
        `tq: ${statusOn ? `task status in table ${context.status().tableName} (\`tq status <id>\`, \`tq results\`), ` : ''}idempotency records in ${idempotencyTable(context)}`,
      );
    } catch (error) {
      statusOn = false;
      stateTables = false;
      log(
        `tq: task status and idempotency records off: their tables could not be created (${(error as Error).message})`,
      );
    }
  }
  // The file is the desired state: with none, the embedded scheduler keeps no recurring
  // schedules (one-time sends stay); an external endpoint is left alone without a file.
  if ((schedulesFrom.file || local) && services.scheduler !== 'missing') {
    try {
      await convergeSchedules(env, context.sns, schedulesFrom.schedules, { prune: true });
      for (const schedule of schedulesFrom.schedules) {
        const [next] = nextRuns(schedule, 1);
        log(
          `tq: schedule ${schedule.name}: ${schedule.task} ${schedule.expression}${schedule.kind === 'cron' ? ` (${schedule.timezone})` : ''}, next ${next ? next.toISOString() : 'never'}`,
        );
      }
      if (schedulesFrom.file)
        log(
          `tq: ${schedulesFrom.schedules.length} schedule(s) from ${displayPath(schedulesFrom.file)} (\`tq schedules\`)`,
        );
    } catch (error) {
      if (schedulesFrom.file) throw error;
      log(`tq: schedules off: the endpoint's scheduler did not answer (${(error as Error).message})`);
    }
    local?.scheduler?.onFiring((firing) => {
      log(
        firing.error
          ? `tq: schedule ${firing.schedule} (${firing.scheduledTime}) failed to publish: ${firing.error}`
          : `tq: schedule ${firing.schedule} fired for ${firing.scheduledTime} (message ${firing.messageId})`,
      );
    });
  }
  return { statusOn, stateTables };
}

/** The mail server the workers send to: `SMTP_URL`, else an SMTP sink that keeps each mail as a file. */
async function startMail(
  options: LocalStackOptions,
  log: (line: string) => void,
): Promise<{ smtpUrl: string; mailDir: string | undefined; sink: SmtpSink | undefined }> {
  const smtpUrl = process.env.SMTP_URL;
  if (!smtpUrl) {
    const mailDir = resolve(options.mailDir);
    const sink = await startSmtpSink({ host: options.host, port: options.smtpPort, dir: mailDir }).catch(
      portTaken(
        `the mail sink's port ${options.smtpPort} on ${options.host} is in use: start with --smtp-port <free port> (0 picks one), or set SMTP_URL to a mail server`,
      ),
    );
    sink.onMessage((mail) => {
      const to = mail.envelope.to.join(', ');
      log(`tq: mail "${mail.parsed.subject ?? ''}" to ${to} -> ${displayPath(mail.file ?? '')}`);
    });
    log(`tq: SMTP sink ${sink.url}, mails kept in ${displayPath(mailDir)}`);
    return { smtpUrl: sink.url, mailDir, sink };
  }
  log(`tq: mail goes to SMTP_URL ${smtpUrl.replace(/\/\/[^@/]*@/, '//***@')}`);
  return { smtpUrl, mailDir: undefined, sink: undefined };
}
