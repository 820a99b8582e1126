#!/usr/bin/env node
// Builds one app and writes it as a self-contained folder (its dist, its production
// node_modules with the workspace packages it uses, the project's config as tq.config.mjs, its
// Dockerfile) that runs with plain `node dist/main.js`. Run from an app folder:
// `pnpm run deploy [out-dir]` (default: deploy/<app>).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const app = process.cwd();
const { name } = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
const out = resolve(process.argv[2] ?? join(root, 'deploy', basename(app)));
// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by pnpm for the script it runs, not a turbo task input
const pnpm = process.env.npm_execpath;
if (!pnpm || !/pnpm/.test(pnpm)) {
  console.error('deploy-app: run me through pnpm (pnpm run deploy), so I can call the same pnpm');
  process.exit(2);
}
// turbo finds pnpm on PATH and runs it in each package's folder: a relative PATH entry (npx puts
// ./node_modules/.bin first) would name a pnpm that is not there. Absolute entries only, the
// root's own bin (with the pinned pnpm) first.
const path = [
  join(root, 'node_modules', '.bin'),
  ...(process.env.PATH ?? '').split(':').filter((entry) => entry.startsWith('/')),
];
const env = { ...process.env, PATH: path.join(':') };
const run = (args, cwd = root) => execFileSync(process.execPath, [pnpm, ...args], { cwd, stdio: 'inherit', env });

// turbo itself, not through `pnpm exec` (which puts ./node_modules/.bin back in front).
execFileSync(join(root, 'node_modules', '.bin', 'turbo'), ['run', 'build', `--filter=${name}...`], {
  cwd: root,
  stdio: 'inherit',
  env,
});
rmSync(out, { recursive: true, force: true });
run(['--filter', name, 'deploy', '--prod', '--legacy', out]);
// pnpm 10's legacy deploy to a folder outside the workspace also links the app's bins under the
// workspace at the same path (`/tmp/x` → `<workspace>/tmp/x/node_modules/.bin`): remove that
// copy, and the folders it made that are empty then, so deploys leave nothing behind.
if (relative(root, out).startsWith('..')) {
  const stray = join(root, out);
  if (existsSync(join(stray, 'node_modules', '.bin'))) {
    rmSync(join(stray, 'node_modules'), { recursive: true, force: true });
    for (let dir = stray; dir !== root && existsSync(dir) && readdirSync(dir).length === 0; dir = dirname(dir)) {
      rmdirSync(dir);
    }
  }
}
// Every app's image is built the same way: one Dockerfile for all of them.
copyFileSync(join(root, 'scripts', 'app.Dockerfile'), join(out, 'Dockerfile'));
// The project's tq.config.ts as one JavaScript module (its task files bundled in, packages left to
// node_modules): what the relay and the bridge read, found from the folder without a TypeScript loader.
await build({
  entryPoints: [join(root, 'tq.config.ts')],
  bundle: true,
  packages: 'external',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: join(out, 'tq.config.mjs'),
  logLevel: 'warning',
});
console.log(`deploy-app: ${name} is in ${out}; run it with \`node dist/main.js\` or build ${join(out, 'Dockerfile')}`);
