import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

/** Options of `startActiveMq`. */
export interface ActiveMqOptions {
  /** The broker's XML configuration (the ActiveMQ bridge ships `apps/activemq-bridge/activemq.xml`). */
  config: string;
  /** Interface of both connectors (`tq.host`). Default 127.0.0.1. */
  host?: string;
  /** STOMP port (`tq.stomp.port`); 0 (default) picks a free one. Give the old port to restart a broker. */
  stompPort?: number;
  /** OpenWire port (`tq.openwire.port`); 0 (default) picks a free one. */
  openwirePort?: number;
  /** Destination prefix (`tq.prefix`). Default `tq`. */
  prefix?: string;
  /**
   * Queues there from the start (`<prefix>.<name>` each), put where the configuration has the
   * comment `<!-- tq:task-queues -->` inside its `<destinations>`: a project's task queues.
   */
  queues?: readonly string[];
  /**
   * Folder of the broker's state (KahaDB: every persistent message). Reuse it to restart a broker
   * with its messages. Default: a new temporary folder, removed by `stop()`.
   */
  dataDir?: string;
  /** ActiveMQ's install (`activemq.jar` under `bin/`). Default `ACTIVEMQ_HOME`, else Debian's `/usr/share/activemq`. */
  home?: string;
  /** Java heap, default `256m`. */
  heap?: string;
  /** How long to wait for the connectors, in ms (a JVM on a busy machine is slow). Default 120 s. */
  startTimeoutMs?: number;
  /** Each line the broker logs (warnings and errors, plus its start and stop). */
  log?: (line: string) => void;
}

/** A running ActiveMQ broker. */
export interface ActiveMq {
  /** `stomp://host:port`, what the bridge's `TQ_ACTIVEMQ_URL` takes. */
  readonly stompUrl: string;
  readonly stompPort: number;
  /** `tcp://host:port`, for JMS (OpenWire) clients. */
  readonly openwireUrl: string;
  readonly openwirePort: number;
  readonly host: string;
  readonly dataDir: string;
  readonly pid: number;
  /** Everything the broker logged so far. */
  output(): string;
  /** Stops the broker cleanly (SIGTERM: it closes its connectors and store), then removes a temporary data folder. */
  stop(): Promise<void>;
  /** Kills the JVM at once (SIGKILL), as a crash would; the data folder stays. */
  kill(): Promise<void>;
}

const LOG4J = `log4j.rootLogger=WARN, out
log4j.logger.org.apache.activemq.broker.BrokerService=INFO
log4j.logger.org.apache.activemq.broker.TransportConnector=INFO
log4j.logger.org.apache.activemq.transport.TransportServerThreadSupport=INFO
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=%d{HH:mm:ss,SSS} %-5p %c{1} - %m%n
`;

/** Jars ActiveMQ's STOMP connector needs for `transformation: jms-map-json` (Debian: libxstream-java, libjettison-java). */
const EXTRA_JARS = ['/usr/share/java/xstream.jar', '/usr/share/java/jettison.jar'];

/** Where ActiveMQ is installed, or an error naming how to install it. */
export function findActiveMqHome(home = process.env.ACTIVEMQ_HOME): string {
  const dir = home ?? '/usr/share/activemq';
  if (!existsSync(join(dir, 'bin', 'activemq.jar'))) {
    throw new Error(
      `ActiveMQ is not installed (no ${join(dir, 'bin', 'activemq.jar')}): apt-get install activemq (Debian's package, 5.17), or set ACTIVEMQ_HOME to an ActiveMQ 5.x folder`,
    );
  }
  return dir;
}

/** Where a configuration takes the queues of `queues`. */
const QUEUES_MARKER = '<!-- tq:task-queues -->';

/**
 * ActiveMQ's base folder in `dataDir` (the logging setup, the extra jars, anything the broker
 * writes besides its store) and the configuration to start with: `config` as it is, or with
 * `queues` written at its marker.
 */
async function prepareBrokerFiles(
  config: string,
  dataDir: string,
  queues: readonly string[] | undefined,
): Promise<{ base: string; brokerConfig: string }> {
  // ActiveMQ's base folder: the logging setup and anything the broker writes besides its store.
  const base = join(dataDir, 'base');
  await mkdir(base, { recursive: true });
  await writeFile(join(base, 'log4j.properties'), LOG4J);
  // STOMP clients read MapMessages (the statistics plugin's answers) as JSON through XStream and
  // Jettison, which Debian packages apart from ActiveMQ: they join the broker's classpath here.
  await mkdir(join(base, 'lib'), { recursive: true });
  for (const jar of EXTRA_JARS) {
    const target = join(base, 'lib', basename(jar));
    if (existsSync(jar) && !existsSync(target)) await symlink(jar, target);
  }

  // The configuration with the given queues at its marker, written beside the broker's files.
  let brokerConfig = config;
  if (queues !== undefined) {
    const xml = await readFile(config, 'utf8');
    if (!xml.includes(QUEUES_MARKER)) {
      throw new Error(
        `ActiveMQ configuration ${config} has no ${QUEUES_MARKER} in its <destinations> to put queues at`,
      );
    }
    const lines = queues.map((name) => `<queue physicalName="\${tq.prefix}.${name}"/>`);
    brokerConfig = join(base, 'activemq.xml');
    await writeFile(brokerConfig, xml.replace(QUEUES_MARKER, lines.join('\n      ')));
  }
  return { base, brokerConfig };
}

/**
 * Resolves once the broker says it started and both connectors listen (their real ports, also
 * when 0 was asked); rejects with its output when it exits first, cannot run, or takes longer
 * than `timeoutMs`.
 */
async function untilListening(
  child: ChildProcess,
  exited: Promise<unknown[]>,
  log: ((line: string) => void) | undefined,
  timeoutMs: number,
): Promise<{ ports: { stomp: number; openwire: number }; output: () => string }> {
  let output = '';
  let pending = '';
  const ports: { stomp?: number; openwire?: number } = {};
  let started = false;
  let onLine: (() => void) | undefined;
  const read = (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      // "Listening for connections at: stomp://host:61613?..." (the real port, also when 0 was asked)
      const match = /Listening for connections at: (stomp|tcp):\/\/[^:/]+:(\d+)/.exec(line);
      if (match) ports[match[1] === 'stomp' ? 'stomp' : 'openwire'] = Number(match[2]);
      // "Apache ActiveMQ 5.17.2 (tq, ID:...) started": its shutdown hook is in place from here on.
      if (/BrokerService - Apache ActiveMQ .* started/.test(line)) started = true;
      log?.(line);
    }
    onLine?.();
  };
  child.stdout?.on('data', read);
  child.stderr?.on('data', read);
  const spawnFailed = once(child, 'error');
  await new Promise<void>((resolveStart, rejectStart) => {
    const timer = setTimeout(
      () => rejectStart(new Error(`ActiveMQ did not open its connectors within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    onLine = () => {
      if (started && ports.stomp !== undefined && ports.openwire !== undefined) {
        clearTimeout(timer);
        resolveStart();
      }
    };
    void exited.then(([code, signal]) => {
      clearTimeout(timer);
      const hint = code === 127 ? ' (no java: apt-get install activemq, which brings a Java runtime)' : '';
      rejectStart(new Error(`ActiveMQ exited (${signal ?? `code ${code}`})${hint} before it was ready:\n${output}`));
    });
    void spawnFailed.then(([error]) => {
      clearTimeout(timer);
      rejectStart(new Error(`could not run java for ActiveMQ (${(error as Error).message}): apt-get install activemq`));
    });
  });
  onLine = undefined;
  return { ports: { stomp: ports.stomp as number, openwire: ports.openwire as number }, output: () => output };
}

/**
 * Starts Apache ActiveMQ (Debian's `activemq` package) with the given configuration, on loopback
 * and free ports unless told otherwise, and resolves once both connectors listen. The broker runs
 * as a child JVM; `stop()` ends it cleanly, `kill()` as a crash would. Rejects with the broker's
 * own log when it does not start (a taken port, a bad configuration).
 */
export async function startActiveMq(options: ActiveMqOptions): Promise<ActiveMq> {
  const home = findActiveMqHome(options.home);
  const config = resolve(options.config);
  if (!existsSync(config)) throw new Error(`ActiveMQ configuration ${config} does not exist`);
  const host = options.host ?? '127.0.0.1';
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ? resolve(options.dataDir) : await mkdtemp(join(tmpdir(), 'tq-activemq-'));
  await mkdir(dataDir, { recursive: true });
  const { base, brokerConfig } = await prepareBrokerFiles(config, dataDir, options.queues);

  const javaArgs = [
    `-Xmx${options.heap ?? '256m'}`,
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(base, 'log4j.properties')}`,
    `-Dactivemq.home=${home}`,
    `-Dactivemq.base=${base}`,
    `-Dactivemq.conf=${base}`,
    `-Dactivemq.data=${dataDir}`,
    `-Dtq.data=${dataDir}`,
    `-Dtq.host=${host}`,
    `-Dtq.stomp.port=${options.stompPort ?? 0}`,
    `-Dtq.openwire.port=${options.openwirePort ?? 0}`,
    `-Dtq.prefix=${options.prefix ?? 'tq'}`,
    '-jar',
    join(home, 'bin', 'activemq.jar'),
    'start',
    `xbean:file:${brokerConfig}`,
  ];
  // The JVM must not outlive this process, even when it is killed (SIGKILL runs no handler): a
  // watcher holds this process's end of a pipe and kills the JVM when it reads end-of-file. `exec`
  // keeps the JVM on the shell's pid, so signals from stop() and kill() reach it directly.
  const child: ChildProcess = spawn(
    'sh',
    [
      '-c',
      'exec 3<&0; (cat <&3 >/dev/null; kill -9 $$ 2>/dev/null) & exec java "$@" 0</dev/null 3<&-',
      'sh',
      ...javaArgs,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], cwd: base },
  );
  const cleanup = async () => {
    if (temporary) await rm(dataDir, { recursive: true, force: true });
  };
  const exited = once(child, 'exit');
  let started: { ports: { stomp: number; openwire: number }; output: () => string };
  try {
    started = await untilListening(child, exited, options.log, options.startTimeoutMs ?? 120_000);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    child.stdin?.end();
    await cleanup();
    throw error;
  }
  const { ports, output } = started;

  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
    child.stdin?.end();
  };
  const stompPort = ports.stomp;
  const openwirePort = ports.openwire;
  return {
    stompUrl: `stomp://${host}:${stompPort}`,
    stompPort,
    openwireUrl: `tcp://${host}:${openwirePort}`,
    openwirePort,
    host,
    dataDir,
    pid: child.pid as number,
    output,
    stop: async () => {
      await end('SIGTERM');
      await cleanup();
    },
    kill: () => end('SIGKILL'),
  };
}
