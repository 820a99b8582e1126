/**
 * The `tq` command line as a library, for embedding and tests.
 *
 * ```ts
 * import { run } from '@tq/cli';
 * process.exitCode = await run(['up', '--port', '0']);
 * ```
 *
 * @module
 */
export { createProgram, run } from './program.js';
