import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ActiveMq, startActiveMq } from '@tq/local';
import { UsageError } from './errors.js';
import { ConfigFileError, type Project } from './project.js';

// The programs `tq up` runs beside the endpoint: the project's worker apps, this repository's
// relay and bridge, the PHP worker of the original design, and the local ActiveMQ broker.

/** A program `tq up` runs beside the endpoint: its name, node's arguments, and its own variables. */
export interface AppCommand {
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
export async function startPhpWorker(
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
 * A local ActiveMQ for the bridge (`TQ_ACTIVEMQ=1`) with a queue per task of `queues`: the
 * broker configuration the bridge ships, its warnings and errors logged. A taken port or a
 * missing Java or ActiveMQ is a usage error that names the fix.
 */
export async function startLocalBroker(options: {
  host: string;
  ports: { stomp: number; openwire: number };
  prefix: string;
  queues: readonly string[];
  dataDir: string | undefined;
  log: (line: string) => void;
}): Promise<ActiveMq> {
  const { ports, log } = options;
  return startActiveMq({
    config: activemqConfig(),
    host: options.host,
    stompPort: ports.stomp,
    openwirePort: ports.openwire,
    prefix: options.prefix,
    queues: options.queues,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
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
}

/**
 * Starts one app as a child process with the local system's variables (`env`, then the app's
 * own), each line of its output handed to `onLine` with the app's short name (`email`,
 * `activemq`), and its exit logged when it was not a clean one.
 */
export function spawnApp(
  app: AppCommand,
  env: Record<string, string>,
  onLine: (line: string, short: string) => void,
  log: (line: string) => void,
): ChildProcess {
  const short = app.name.replace(/-worker$/, '').replace(/^activemq-bridge$/, 'activemq');
  const child = spawn(process.execPath, app.command, {
    env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...app.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => onLine(line, short));
  }
  child.once('exit', (code, signal) => {
    if (code !== 0 || signal) log(`tq: ${app.name} exited (${signal ?? `code ${code}`})`);
  });
  return child;
}

/**
 * The apps `tq up` runs: the project's worker apps, the ActiveMQ bridge when there is a broker,
 * and with `TQ_PHP_WORKER=1` the HTTP relay to the original design's PHP worker (started here,
 * handed to `started`) in place of the email worker.
 */
export async function localApps(
  project: Project,
  system: { activemqUrl: string | undefined; smtpUrl: string },
  log: (line: string) => void,
  started: (name: string, child: ChildProcess) => void,
): Promise<AppCommand[]> {
  let workers = projectWorkerApps(project);
  const { activemqUrl } = system;
  if (activemqUrl) {
    workers = [
      ...workers,
      ...findWorkerApps(['activemq-bridge']).map((app) => ({ ...app, env: { TQ_ACTIVEMQ_URL: activemqUrl } })),
    ];
  }
  if (process.env.TQ_PHP_WORKER === '1') {
    // send_email goes to the original design's PHP worker (php -S) through the HTTP relay.
    const php = await startPhpWorker(system.smtpUrl, log);
    started('php-worker', php.child);
    workers = [
      ...workers.filter((app) => app.name !== 'email-worker'),
      ...findWorkerApps(['http-relay']).map((app) => ({
        ...app,
        env: { TQ_TASK: 'send_email', RELAY_MODE: 'query', RELAY_URL: `${php.url}/worker.php` },
      })),
    ];
  }
  return workers;
}
