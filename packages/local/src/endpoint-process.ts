import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type LocalEndpoint, localClientConfig } from './local-endpoint.js';

/** A local endpoint running in a child process (in memory only). */
export interface EndpointProcess
  extends Omit<LocalEndpoint, 'dataDir' | 'restored' | 'save' | 'scheduler' | 'requests'> {
  readonly pid: number;
}

/**
 * Starts the local SQS/SNS/S3 endpoint in its own process, so its CPU and memory are not the
 * caller's (benchmarks, memory tests). Listens on loopback and a free port unless told
 * otherwise; the child exits with its parent.
 */
export async function startEndpointProcess(
  options: { port?: number; host?: string; region?: string } = {},
): Promise<EndpointProcess> {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`./endpoint-main.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const region = options.region ?? 'us-east-1';
  const child = spawn(
    process.execPath,
    [
      ...(fromSource ? ['--import', 'tsx'] : []),
      script,
      String(options.port ?? 0),
      options.host ?? '127.0.0.1',
      region,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const address = await new Promise<{ endpoint: string; port: number }>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n')[0];
      if (output.includes('\n') && line) {
        child.stdout?.off('data', onData);
        resolve(JSON.parse(line) as { endpoint: string; port: number });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`endpoint process exited (${code}) before it was ready`)));
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    })();
    return stopped;
  };
  return {
    endpoint: address.endpoint,
    port: address.port,
    region,
    pid: child.pid ?? 0,
    clientConfig: localClientConfig(address.endpoint, region),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
