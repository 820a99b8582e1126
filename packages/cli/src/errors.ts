/** A command line the user must fix (unknown task, bad flag value): exit code 2. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}
