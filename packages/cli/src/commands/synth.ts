import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TqConfig } from '@tq/contracts';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loadProject, type Project } from '../project.js';

// The two modules the project's AWS app is built with: the project's own, so their versions are its
// (the CLI does not depend on either). What of them it uses:
interface CdkLib {
  App: new (props: { outdir: string; context: Record<string, unknown> }) => { synth(): unknown };
}
interface TqCdk {
  buildSystem(
    app: unknown,
    config: TqConfig,
    options: { root: string; stackProps?: { env: { account: string; region: string } } },
  ): { core: { stackName: string }; workers: { stackName: string }[] };
}

/** Imports a package as the project resolves it (its node_modules), or says how to add it. */
async function importFromProject<T>(project: Project, name: string): Promise<T> {
  const require = createRequire(join(project.root, 'package.json'));
  let file: string;
  try {
    file = require.resolve(name);
  } catch {
    throw new UsageError(
      `tq synth needs ${name} in the project: npm install --save-dev @tq/cdk aws-cdk-lib constructs aws-cdk`,
    );
  }
  return (await import(pathToFileURL(file).href)) as T;
}

/** `key=value` pairs of `-c`, as the CDK CLI takes them. */
function parseContext(pairs: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`-c ${pair}: give context as key=value, e.g. -c tq:prefix=shop`);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return context;
}

/** The `context` of the project's cdk.json, which `cdk` itself passes on when it runs this. */
function cdkJsonContext(project: Project): Record<string, unknown> {
  const file = join(project.root, 'cdk.json');
  if (!existsSync(file)) return {};
  try {
    return ((JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context ?? {}) as Record<
      string,
      unknown
    >;
  } catch (error) {
    throw new UsageError(`${relative(process.cwd(), file) || file}: ${(error as Error).message} (fix its JSON)`);
  }
}

/**
 * `tq synth`: the project's AWS app, from its config: a core stack and one stack per worker app,
 * written as a cloud assembly (`cdk.out/`), offline. It is also the project's CDK app (`cdk.json`
 * says `"app": "npx tq synth"`), so `cdk deploy` runs it with the CDK CLI's context and output.
 */
export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description("build the project's AWS app (CDK) into cdk.out/, offline: a core stack and a stack per worker app")
    .option('-o, --output <dir>', 'where the cloud assembly goes (default: cdk.out, or what cdk says)')
    .option('-c, --context <key=value...>', 'CDK context over cdk.json: tq:prefix, tq:images, tq:tag, …', [])
    .action(async (options: { output?: string; context: string[] }) => {
      const project = await loadProject();
      const lib = await importFromProject<CdkLib>(project, 'aws-cdk-lib');
      const cdk = await importFromProject<TqCdk>(project, '@tq/cdk');
      // Under `cdk`, CDK_OUTDIR and CDK_CONTEXT_JSON say where and what; alone, cdk.json and -c do.
      const underCdk = process.env.CDK_OUTDIR !== undefined;
      const outdir = options.output
        ? resolve(options.output)
        : (process.env.CDK_OUTDIR ?? join(project.root, 'cdk.out'));
      const app = new lib.App({
        outdir,
        context: { ...(underCdk ? {} : cdkJsonContext(project)), ...parseContext(options.context) },
      });
      const account = process.env.CDK_DEFAULT_ACCOUNT;
      const region = process.env.CDK_DEFAULT_REGION;
      let stacks: string[];
      try {
        const system = cdk.buildSystem(app, project.config, {
          root: project.root,
          // Environment-agnostic unless the CDK CLI knows the account (deploy with credentials).
          ...(account && region ? { stackProps: { env: { account, region } } } : {}),
        });
        stacks = [system.core, ...system.workers].map((stack) => stack.stackName);
        app.synth();
      } catch (error) {
        throw new UsageError((error as Error).message.split('\n')[0] ?? String(error), { cause: error });
      }
      if (!underCdk) {
        console.log(
          `tq: ${stacks.length} stacks in ${relative(process.cwd(), outdir) || outdir}: ${stacks.join(', ')}`,
        );
      }
    });
}
