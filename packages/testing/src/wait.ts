/**
 * Asks `check` again every `intervalMs` (default 50) until it answers something other than
 * `undefined`, `null` or `false`, and resolves with that answer. Throws naming `what` once
 * `timeoutMs` (default 120 s: generous, so a loaded machine passes too) is over. For conditions no
 * event announces (a file's contents, a process's output, a row in a table).
 */
export async function waitUntil<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
