import { startConsole } from '@tq/console';
import { readEnvironment } from '@tq/contracts';
import type { Command } from 'commander';
import { consoleLogger } from '../console-logger.js';
import { loadProject } from '../project.js';
import { portFlag } from './up.js';

/** `tq console`: the web console against `TQ_ENDPOINT` (or AWS), until Ctrl-C. */
export function registerConsole(program: Command): void {
  program
    .command('console')
    .description('serve the web console: queues, dead letters (triage, redrive), send a task, task by id')
    .option('-p, --port <port>', 'port (0 picks a free one)', '0')
    .option(
      '--host <host>',
      'interface to bind; anything but loopback is read-only unless TQ_CONSOLE_TOKEN is set',
      '127.0.0.1',
    )
    .option('--read-only', 'refuse every write action (redrive, delete, send)')
    .action(async (options: { port: string; host: string; readOnly?: boolean }) => {
      const web = await startConsole({
        env: readEnvironment(),
        registry: (await loadProject()).config.registry,
        ...(options.readOnly ? { readOnly: true } : {}),
        host: options.host,
        port: portFlag('--port', options.port),
        logger: consoleLogger(),
      });
      console.log(
        `tq: console ${web.link}${web.readOnly ? ' (read-only: set TQ_CONSOLE_TOKEN for write actions)' : ''}`,
      );
      console.log('tq: Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await web.close();
    });
}
