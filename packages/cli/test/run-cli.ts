import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SpawnedProcess, spawnTs, waitForExit } from '@tq/testing';

export { waitForOutput } from '@tq/testing';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bin.ts');

/** Spawns `tq` from source as a real child process. */
export function spawnTq(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): SpawnedProcess {
  return spawnTs(bin, args, env, cwd === undefined ? {} : { cwd });
}

/** Runs `tq` to completion and returns its exit code and output. */
export async function runTq(
  args: string[],
  env: Record<string, string | undefined> = {},
  stdin?: string,
  cwd?: string,
): Promise<{ code: number | null; output: string }> {
  const child = spawnTq(args, env, cwd);
  if (stdin !== undefined) child.stdin?.end(stdin);
  else child.stdin?.end();
  const { code } = await waitForExit(child);
  return { code, output: child.output() };
}
