import { readEnvironment } from '@tq/contracts';
import { startLocalEndpoint } from '@tq/testing';
import type { Command } from 'commander';
import { createContext } from '../context.js';

/** Options of `tq up`. */
export interface UpOptions {
  port: string;
  host: string;
}

/**
 * `tq up`: the local system in one process tree. Starts the embedded SQS/SNS/S3 endpoint on
 * loopback (unless TQ_ENDPOINT points at one), provisions the topology and bucket, and runs until
 * SIGINT/SIGTERM, then shuts down cleanly.
 */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the local system: embedded SQS/SNS/S3 endpoint, provisioned queues and bucket, until Ctrl-C')
    .option('-p, --port <port>', 'port of the embedded endpoint (0 picks a free one)', '4566')
    .option('--host <host>', 'interface the embedded endpoint listens on (it has no authentication)', '127.0.0.1')
    .action(async (options: UpOptions) => {
      const env = readEnvironment();
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) {
        throw new Error(`--port is "${options.port}", must be an integer from 0 to 65535`);
      }
      const local = env.endpoint
        ? undefined
        : await startLocalEndpoint({ port, host: options.host, region: env.region });
      const endpoint = env.endpoint ?? (local?.endpoint as string);
      const context = createContext({ endpoint });
      const changes = await context.provisioner().apply();
      console.log(`tq: endpoint ${endpoint}${local ? ' (embedded)' : ''}, bucket ${env.bucket}, prefix ${env.prefix}`);
      console.log(`tq: provisioned topic ${env.prefix}-tasks and a queue + DLQ per task (${changes.length} change(s))`);
      console.log(`tq: in another shell: export TQ_ENDPOINT=${endpoint} AWS_REGION=${env.region}`);
      console.log('tq: ready, Ctrl-C to stop');
      // Signal listeners do not keep Node's event loop alive; with an external endpoint nothing else would.
      const keepAlive = setInterval(() => {}, 1 << 30);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      clearInterval(keepAlive);
      console.log('tq: shutting down');
      context.close();
      await local?.stop();
      console.log('tq: stopped');
    });
}
