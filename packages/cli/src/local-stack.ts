import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readEnvironment, type TqEnvironment } from '@tq/contracts';
import { statusEnabled } from '@tq/status';
import {
  type ActiveMq,
  type LocalEndpoint,
  type SmtpSink,
  startActiveMq,
  startLocalEndpoint,
  startSmtpSink,
} from '@tq/testing';
import { nextRuns } from '@tq/topology';
import { idempotencyTable, provisionStateTables } from './commands/provision.js';
import { contextFor } from './context.js';
import { UsageError } from './errors.js';
import { ConfigFileError, loadProject, type Project } from './project.js';
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

/** A program `tq up` runs beside the endpoint: its name, node's arguments, and its own variables. */
interface AppCommand {
  name: string;
  command: string[];
  env?: Record<string, string>;
}

/**
 * The project's worker apps (`workers` of its config), each with the command that runs its
 * program: TypeScript through tsx (resolved from this CLI, so a project needs no loader of its
 * own), JavaScript as it is.
 */
export function projectWorkerApps(project: Project): AppCommand[] {
  // From source (tests, `pnpm tq` in this repository) workspace packages resolve to their source too.
  const conditions = import.meta.url.endsWith('.ts') ? ['--conditions=@tq/source'] : [];
  const tsx = import.meta.resolve('tsx');
  return project.config.workers.map((app) => {
    const main = project.mainOf(app);
    if (!existsSync(main)) {
      throw new ConfigFileError(
        `worker app "${app.name}": its main ${relative(process.cwd(), main) || main} does not exist (fix main in ${relative(process.cwd(), project.file) || project.file})`,
      );
    }
    const typescript = /\.[mc]?tsx?$/.test(main);
    return {
      name: app.name,
      command: [...conditions, ...(typescript ? ['--import', tsx] : []), main],
      // The app's own settings (its config's environment), which a set variable still overrides.
      env: Object.fromEntries(
        Object.entries(app.environment).map(([name, value]) => [name, process.env[name] || value]),
      ),
    };
  });
}

/** Apps of this repository beside the project's workers (the ActiveMQ bridge, the HTTP relay), by name. */
export function findWorkerApps(names: string[]): AppCommand[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromSource = import.meta.url.endsWith('.ts');
  const apps = resolve(here, '..', '..', '..', 'apps');
  if (!existsSync(apps)) return [];
  return readdirSync(apps)
    .filter((name) => names.includes(name))
    .sort()
    .flatMap((name) => {
      const source = join(apps, name, 'src', 'main.ts');
      const built = join(apps, name, 'dist', 'main.js');
      if (fromSource && existsSync(source)) {
        return [{ name, command: ['--conditions=@tq/source', '--import', 'tsx', source] }];
      }
      return existsSync(built) ? [{ name, command: [built] }] : [];
    });
}

/**
 * The original design's PHP worker (`examples/php-worker`) under `php -S` on loopback and a free
 * port, mail through `smtpUrl`. Resolves once it answers.
 */
async function startPhpWorker(
  smtpUrl: string,
  log: (line: string) => void,
): Promise<{ child: ChildProcess; url: string }> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'php-worker');
  if (!existsSync(join(root, 'worker.php')))
    throw new UsageError('TQ_PHP_WORKER=1 needs examples/php-worker (run tq up from the repository)');
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  const child = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', root], {
    env: { ...process.env, SMTP_URL: smtpUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new UsageError(`TQ_PHP_WORKER=1 needs php-cli (${error.message}): apt-get install php-cli`)),
    );
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => log(`php      ${line}`));
  }
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    const up = await Promise.race([
      fetch(`${url}/`).then(
        () => true,
        () => false,
      ),
      failed,
    ]);
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  log(`tq: PHP worker ${url}/worker.php (send_email through the HTTP relay)`);
  return { child, url };
}

/** The broker configuration the ActiveMQ bridge ships, from this repository. */
function activemqConfig(): string {
  const config = resolve(
    dirname(fileURLToPath(import.meta.url)),
    '..',
    '..',
    '..',
    'apps',
    'activemq-bridge',
    'activemq.xml',
  );
  if (!existsSync(config)) {
    throw new UsageError(
      'TQ_ACTIVEMQ=1 needs apps/activemq-bridge/activemq.xml (run tq up from the repository), or set TQ_ACTIVEMQ_URL to a broker',
    );
  }
  return config;
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
    if (!base.endpoint) {
      const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
      if (dataDir && options.reset) await rm(dataDir, { recursive: true, force: true });
      local = await startLocalEndpoint({
        port: options.port,
        host: options.host,
        region: base.region,
        ...(dataDir ? { dataDir } : {}),
      }).catch(
        portTaken(
          `the endpoint's port ${options.port} on ${options.host} is in use (another tq up?): start with --port <free port> (0 picks one), or point TQ_ENDPOINT at the endpoint already running`,
        ),
      );
    }
    const env = { ...base, endpoint: base.endpoint ?? (local?.endpoint as string) };
    const context = contextFor(project, { endpoint: env.endpoint });
    let statusOn = statusEnabled(true);
    let stateTables = true;
    try {
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
      log(
        `tq: provisioned topic ${env.prefix}-tasks and a queue + DLQ per task${copies} (${changes.length} change(s))`,
      );
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
      if ((scheduleFile || local) && services.scheduler !== 'missing') {
        try {
          await convergeSchedules(env, context.sns, schedules, { prune: true });
          for (const schedule of schedules) {
            const [next] = nextRuns(schedule, 1);
            log(
              `tq: schedule ${schedule.name}: ${schedule.task} ${schedule.expression}${schedule.kind === 'cron' ? ` (${schedule.timezone})` : ''}, next ${next ? next.toISOString() : 'never'}`,
            );
          }
          if (scheduleFile)
            log(`tq: ${schedules.length} schedule(s) from ${displayPath(scheduleFile)} (\`tq schedules\`)`);
        } catch (error) {
          if (scheduleFile) throw error;
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
    } finally {
      context.close();
    }

    let smtpUrl = process.env.SMTP_URL;
    let mailDir: string | undefined;
    if (!smtpUrl) {
      mailDir = resolve(options.mailDir);
      sink = await startSmtpSink({ host: options.host, port: options.smtpPort, dir: mailDir }).catch(
        portTaken(
          `the mail sink's port ${options.smtpPort} on ${options.host} is in use: start with --smtp-port <free port> (0 picks one), or set SMTP_URL to a mail server`,
        ),
      );
      smtpUrl = sink.url;
      sink.onMessage((mail) => {
        const to = mail.envelope.to.join(', ');
        log(`tq: mail "${mail.parsed.subject ?? ''}" to ${to} -> ${displayPath(mail.file ?? '')}`);
      });
      log(`tq: SMTP sink ${smtpUrl}, mails kept in ${displayPath(mailDir)}`);
    } else {
      log(`tq: mail goes to SMTP_URL ${smtpUrl.replace(/\/\/[^@/]*@/, '//***@')}`);
    }

    // The ActiveMQ bridge: with TQ_ACTIVEMQ_URL, to that broker; with TQ_ACTIVEMQ=1, to a local one.
    let activemqUrl = process.env.TQ_ACTIVEMQ_URL || undefined;
    if (!activemqUrl && process.env.TQ_ACTIVEMQ === '1') {
      const ports = options.activemqPorts ?? { stomp: 61613, openwire: 61616 };
      const dataDir = options.dataDir ? join(resolve(options.dataDir), 'activemq') : undefined;
      log('tq: starting ActiveMQ (Java; a few seconds)');
      broker = await startActiveMq({
        config: activemqConfig(),
        host: options.host,
        stompPort: ports.stomp,
        openwirePort: ports.openwire,
        prefix: env.prefix,
        // A queue per task of the project, there before its first message (tq stats shows them).
        queues: project.config.registry.names(),
        ...(dataDir ? { dataDir } : {}),
        log: (line) => {
          if (/ (WARN|ERROR) /.test(line)) log(`activemq ${line}`);
        },
      }).catch((error: unknown) => {
        if (/Address already in use|BindException/.test(String(error))) {
          throw new UsageError(
            `ActiveMQ's ports ${ports.stomp} (STOMP) or ${ports.openwire} (OpenWire) on ${options.host} are in use: stop the broker using them, or point TQ_ACTIVEMQ_URL at it`,
          );
        }
        throw error instanceof Error && /not installed|could not run java/.test(error.message)
          ? new UsageError(error.message)
          : error;
      });
      activemqUrl = broker.stompUrl;
      log(
        `tq: ActiveMQ ${broker.stompUrl} (STOMP), ${broker.openwireUrl} (OpenWire/JMS), destinations ${env.prefix}.<task>`,
      );
    }

    // The console reads each worker's throughput from the /metrics its "worker started" line names.
    const noteMetrics = (line: string) => {
      if (!line.includes('"worker started"')) return;
      try {
        const record = JSON.parse(line) as { task?: string; http?: string };
        if (record.task && record.http) metrics[record.task] = `${record.http}/metrics`;
      } catch {
        // not a JSON log line
      }
    };
    let workers = options.workers === false ? [] : projectWorkerApps(project);
    if (options.workers !== false && activemqUrl) {
      workers = [
        ...workers,
        ...findWorkerApps(['activemq-bridge']).map((app) => ({
          ...app,
          env: { TQ_ACTIVEMQ_URL: activemqUrl as string },
        })),
      ];
    }
    if (options.workers !== false && process.env.TQ_PHP_WORKER === '1') {
      // send_email goes to the original design's PHP worker (php -S) through the HTTP relay.
      const php = await startPhpWorker(smtpUrl, log);
      children.push({ name: 'php-worker', child: php.child });
      workers = [
        ...workers.filter((app) => app.name !== 'email-worker'),
        ...findWorkerApps(['http-relay']).map((app) => ({
          ...app,
          env: { TQ_TASK: 'send_email', RELAY_MODE: 'query', RELAY_URL: `${php.url}/worker.php` },
        })),
      ];
    }
    for (const app of workers) {
      const short = app.name.replace(/-worker$/, '').replace(/^activemq-bridge$/, 'activemq');
      const child = spawn(process.execPath, app.command, {
        env: {
          ...process.env,
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
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...app.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) {
          createInterface({ input: stream }).on('line', (line) => {
            noteMetrics(line);
            log(formatLogLine(short, line));
          });
        }
      }
      child.once('exit', (code, signal) => {
        if (code !== 0 || signal) log(`tq: ${app.name} exited (${signal ?? `code ${code}`})`);
      });
      children.push({ name: app.name, child });
    }
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
