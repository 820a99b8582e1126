import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';

/** A child process whose stdout and stderr are collected. */
export type SpawnedProcess = ChildProcess & {
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
};

/**
 * Runs a TypeScript entry point from source as a real child process
 * (`node --conditions=@tq/source --import tsx <entry>`), for tests where a process must
 * receive signals, die, or be a separate program.
 */
export function spawnTs(
  entry: string,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
  options: { cwd?: string } = {},
): SpawnedProcess {
  // tsx as this module resolves it: the child's working directory may be a project without it.
  const tsx = import.meta.resolve('tsx');
  return spawnCommand(process.execPath, ['--conditions=@tq/source', '--import', tsx, entry, ...args], {
    env,
    ...options,
  });
}

/** Runs a program (an installed `tq`, `npx`…) as a child process whose output is collected. */
export function spawnCommand(
  command: string,
  args: string[] = [],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): SpawnedProcess {
  const child = spawn(command, args, {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return Object.assign(child, { output: () => output });
}

/** Resolves when the process's output matches `pattern`; rejects if it exits first. */
export async function waitForOutput(child: SpawnedProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  const existing = child.output().match(pattern);
  if (existing) return existing;
  return new Promise((resolve, reject) => {
    const onData = () => {
      const match = child.output().match(pattern);
      if (!match) return;
      cleanup();
      resolve(match);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process exited (${code}) before printing ${pattern}:\n${child.output()}`));
    };
    const cleanup = () => {
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Resolves with the exit code (or the signal that ended it) once the process has exited. */
export async function waitForExit(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}

/**
 * Runs the CDK CLI (`cdk`, the `aws-cdk` package's bin) on the app of `cwd`'s cdk.json, offline:
 * no credentials, no instance metadata, no version check or notices. Resolves with the template
 * files written to `outdir`, sorted.
 */
export async function cdkSynthOffline(cdk: string, cwd: string, outdir: string): Promise<string[]> {
  const child = spawnCommand(cdk, ['synth', '--quiet', '--no-notices', '-o', outdir], {
    cwd,
    env: {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_DISABLE_VERSION_CHECK: 'true',
    },
  });
  child.stdin?.end();
  const { code } = await waitForExit(child);
  if (code !== 0) throw new Error(`cdk synth exited ${code}:\n${child.output()}`);
  return (await readdir(outdir)).filter((file) => file.endsWith('.template.json')).sort();
}
