import { readFileSync } from 'node:fs';
import { classifyAwsError } from '@tq/aws';
import { isTaskValidationError } from '@tq/contracts';
import { Command } from 'commander';
import { registerConsole } from './commands/console.js';
import { registerContracts } from './commands/contracts.js';
import { registerDemo } from './commands/demo.js';
import { registerDlq } from './commands/dlq.js';
import { registerCancel, registerFlow } from './commands/flow.js';
import { registerGet } from './commands/get.js';
import { registerInit } from './commands/init.js';
import { registerProvision } from './commands/provision.js';
import { registerSchedules } from './commands/schedules.js';
import { registerSchema } from './commands/schema.js';
import { registerSend } from './commands/send.js';
import { registerStats } from './commands/stats.js';
import { registerStatus } from './commands/status.js';
import { registerSynth } from './commands/synth.js';
import { registerUp } from './commands/up.js';
import { UsageError } from './errors.js';
import { setConfigFile } from './project.js';

/** This package's version (`src/` and `dist/` sit at the same depth below package.json). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Builds the `tq` command line. Every command has `--help`. */
export function createProgram(): Command {
  const program = new Command('tq')
    .description('tq: typed task queues on Amazon SQS and SNS')
    .version(version(), '-V, --version', 'print the version of tq')
    // Program options only before a command, so `tq schema <task> --version 2` is the command's own.
    .enablePositionalOptions()
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) })
    .option('--config <file>', 'the project file (default: TQ_CONFIG, else tq.config.ts from here upward)')
    .hook('preAction', (command) => setConfigFile(command.opts<{ config?: string }>().config));
  registerUp(program);
  registerProvision(program);
  registerSend(program);
  registerFlow(program);
  registerCancel(program);
  registerStats(program);
  registerDlq(program);
  registerDemo(program);
  registerSchema(program);
  registerContracts(program);
  registerGet(program);
  registerStatus(program);
  registerSchedules(program);
  registerConsole(program);
  registerInit(program);
  registerSynth(program);
  return program;
}

/**
 * The message of a failed command, with the fix where the cause is the setup rather than the
 * command: with `TQ_ENDPOINT` unset tq talks to real AWS, so missing or rejected credentials most
 * often mean the user meant the local system of `tq up`.
 */
export function explain(error: unknown, env: NodeJS.ProcessEnv = process.env): string {
  const message = error instanceof Error ? error.message : String(error);
  if (classifyAwsError(error) !== 'credentials' || error instanceof UsageError) return message;
  if (env.TQ_ENDPOINT) {
    return `${message} (endpoint ${env.TQ_ENDPOINT}: it rejected the credentials; local endpoints accept any, so check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or unset them)`;
  }
  return [
    `${message}.`,
    'TQ_ENDPOINT is not set, so tq is talking to real AWS, and the AWS credentials are missing or rejected.',
    'For the local system that `tq up` runs: export TQ_ENDPOINT=http://127.0.0.1:4566 (the URL `tq up` prints).',
    'For AWS: configure credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role).',
  ].join('\n  ');
}

/** Runs the CLI; resolves with the process exit code (0 ok, 1 failure, 2 usage). */
export async function run(argv: readonly string[]): Promise<number> {
  const program = createProgram().exitOverride();
  // `pnpm start -- --port 0` forwards the `--`; it is not meant as "end of options" here.
  const args = argv.filter((arg, index) => !(arg === '--' && index <= 1 && argv[index + 1]?.startsWith('-')));
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      return code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : 2;
    }
    console.error(`tq: ${explain(error)}`);
    // Input the user must fix: a bad flag or config (UsageError), a payload that breaks its schema.
    return error instanceof UsageError || isTaskValidationError(error) ? 2 : 1;
  }
}
