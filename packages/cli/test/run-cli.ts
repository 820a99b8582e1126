import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bin.ts');

/** Spawns `tq` from source as a real child process. */
export function spawnTq(
  args: string[],
  env: Record<string, string | undefined> = {},
): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--conditions=@tq/source', '--import', 'tsx', bin, ...args], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return Object.assign(child, { output: () => output });
}

/** Resolves when the child's output matches `pattern`; rejects if it exits first. */
export async function waitForOutput(child: ReturnType<typeof spawnTq>, pattern: RegExp): Promise<RegExpMatchArray> {
  const check = () => child.output().match(pattern);
  const existing = check();
  if (existing) return existing;
  return new Promise((resolve, reject) => {
    const onData = () => {
      const match = check();
      if (!match) return;
      cleanup();
      resolve(match);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`tq exited (${code}) before printing ${pattern}:\n${child.output()}`));
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

/** Runs `tq` to completion and returns its exit code and output. */
export async function runTq(
  args: string[],
  env: Record<string, string | undefined> = {},
  stdin?: string,
): Promise<{ code: number | null; output: string }> {
  const child = spawnTq(args, env);
  if (stdin !== undefined) child.stdin?.end(stdin);
  else child.stdin?.end();
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output: child.output() };
}
