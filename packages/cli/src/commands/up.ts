import { startConsole } from '@tq/console';
import type { Command } from 'commander';
import { consoleLogger } from '../console-logger.js';
import { UsageError } from '../errors.js';
import { startLocalStack, tqCommand } from '../local-stack.js';

/** Signals closer together than this are one request (see the handler in `tq up`). */
const SIGNAL_REPEAT_MS = 1000;

/** Options of `tq up`. */
export interface UpOptions {
  port: string;
  host: string;
  smtpPort: string;
  mailDir: string;
  dataDir: string;
  reset?: boolean;
  memory?: boolean;
  workers: boolean;
  activemqPort: string;
  openwirePort: string;
  schedules?: string;
  console: boolean;
  consolePort: string;
}

/** Parses a port flag; throws `UsageError` naming it. */
export function portFlag(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`${flag} is "${value}", must be an integer from 0 to 65535`);
  }
  return port;
}

/**
 * `tq up`: the local system in one process tree: the embedded SQS/SNS/S3 endpoint on loopback
 * (unless TQ_ENDPOINT points at one), the provisioned topology and bucket, an SMTP sink that keeps
 * every mail (unless SMTP_URL is set) and every worker app with its logs prefixed. Runs until
 * SIGINT/SIGTERM, then shuts everything down cleanly.
 */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the local system: endpoint, queues, SMTP sink and every worker app, until Ctrl-C')
    .option('-p, --port <port>', 'port of the embedded endpoint (0 picks a free one)', '4566')
    .option('--host <host>', 'interface every local listener binds (they have no authentication)', '127.0.0.1')
    .option('--smtp-port <port>', 'port of the SMTP sink (0 picks a free one)', '1025')
    .option('--mail-dir <dir>', 'folder the SMTP sink writes each mail to', '.tq/mail')
    .option('--data-dir <dir>', 'folder the embedded endpoint keeps queues, messages and objects in', '.tq/data')
    .option('--reset', 'empty the data folder first')
    .option('--memory', 'keep nothing: state in memory only, gone at exit')
    .option('--no-workers', 'start the endpoint, queues and SMTP sink only')
    .option('--activemq-port <port>', 'STOMP port of the local ActiveMQ (with TQ_ACTIVEMQ=1)', '61613')
    .option('--openwire-port <port>', 'OpenWire (JMS) port of the local ActiveMQ (with TQ_ACTIVEMQ=1)', '61616')
    .option('--console-port <port>', 'port of the web console (0 picks a free one)', '0')
    .option('--no-console', 'do not serve the web console')
    .option(
      '--schedules <file>',
      'recurring tasks to run (default: TQ_SCHEDULES, else ./tq.schedules.json when present)',
    )
    .action(async (options: UpOptions) => {
      // Listening before anything starts: a Ctrl-C during startup (or right after "ready") stops
      // everything cleanly instead of killing this process with its children half started.
      // A signal right after the first is the same request arriving twice (Ctrl-C reaches the whole
      // process group and `pnpm start` forwards it again), not a second request; a later one is.
      let firstSignalAt = 0;
      let forceStop: (() => void) | undefined;
      const stopRequested = new Promise<void>((resolve) => {
        const onSignal = () => {
          if (firstSignalAt === 0) {
            firstSignalAt = Date.now();
            resolve();
          } else if (Date.now() - firstSignalAt >= SIGNAL_REPEAT_MS) {
            forceStop?.();
          }
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      const stack = await startLocalStack({
        port: portFlag('--port', options.port),
        host: options.host,
        smtpPort: portFlag('--smtp-port', options.smtpPort),
        mailDir: options.mailDir,
        ...(options.memory ? {} : { dataDir: options.dataDir, reset: options.reset ?? false }),
        workers: options.workers,
        ...(options.schedules ? { schedules: options.schedules } : {}),
        activemqPorts: {
          stomp: portFlag('--activemq-port', options.activemqPort),
          openwire: portFlag('--openwire-port', options.openwirePort),
        },
      });
      console.log(`tq: workers: ${stack.workers.length > 0 ? stack.workers.join(', ') : 'none'}`);
      const web = options.console
        ? await startConsole({
            env: stack.env,
            registry: stack.project.config.registry,
            host: options.host,
            port: portFlag('--console-port', options.consolePort),
            metrics: stack.metrics,
            logger: consoleLogger(),
          }).catch(async (error: unknown) => {
            await stack.stop();
            throw error;
          })
        : undefined;
      if (web)
        console.log(
          `tq: console ${web.link}${web.readOnly ? ' (read-only: set TQ_CONSOLE_TOKEN for write actions)' : ''}`,
        );
      const broker = stack.activemqUrl ? ` TQ_ACTIVEMQ_URL=${stack.activemqUrl}` : '';
      console.log(
        `tq: in another shell: export TQ_ENDPOINT=${stack.env.endpoint} AWS_REGION=${stack.env.region}${broker}`,
      );
      const tq = tqCommand();
      console.log(
        `tq: then try \`${tq} demo\`, \`${tq} stats\`, or \`${tq} send send_email '{"to":["you@example.com"],"subject":"Hi","text":"Hello"}'\``,
      );
      console.log('tq: ready, Ctrl-C to stop');
      // Signal listeners do not keep Node's event loop alive; with an external endpoint nothing else would.
      const keepAlive = setInterval(() => {}, 1 << 30);
      await stopRequested;
      clearInterval(keepAlive);
      console.log('tq: shutting down (Ctrl-C again to stop at once)');
      forceStop = () => {
        console.log('tq: stopping at once');
        stack.kill();
        process.exit(130);
      };
      await web?.close();
      await stack.stop();
      console.log('tq: stopped');
    });
}
