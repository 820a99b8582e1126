import { pino } from 'pino';

/**
 * The console's log as `tq` prints it: one line per write action or failure on stderr, as
 * `tq: console <message> {fields}` rather than raw JSON.
 */
export function consoleLogger() {
  return pino(
    { name: 'console', level: process.env.LOG_LEVEL ?? 'info', base: null, timestamp: false },
    {
      write(line: string) {
        try {
          const { msg, level: _level, name: _name, ...fields } = JSON.parse(line) as Record<string, unknown>;
          process.stderr.write(`tq: ${String(msg)} ${JSON.stringify(fields)}\n`);
        } catch {
          process.stderr.write(line);
        }
      },
    },
  );
}
