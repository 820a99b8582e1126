import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parseTask } from '@tq/contracts';
import {
  cdkSynthOffline,
  type LocalEndpoint,
  spawnCommand,
  startLocalEndpoint,
  uniqueName,
  waitForExit,
  waitForMessages,
  waitForOutput,
} from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { runServer } from 'verdaccio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Every public package of the workspace: what `changeset publish` publishes. */
const published = [
  'activemq',
  'aws',
  'cdk',
  'cli',
  'console',
  'contracts',
  'local',
  'producer-sdk',
  'status',
  'testing',
  'topology',
  'worker',
];

async function pnpmCommand(): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { packageManager: string };
  return ['npx', '-y', manifest.packageManager];
}

/**
 * The release path as a user meets it: `pnpm pack` (what `changeset publish` publishes: workspace
 * ranges rewritten, `publishConfig` applied), `npm publish` to a throwaway registry on loopback,
 * then a scratch project outside the workspace installs with plain npm, type-checks and runs.
 */
describe('release: packed packages install and work outside the workspace', () => {
  let work: string;
  let registry: Server;
  let registryUrl: string;
  let endpoint: LocalEndpoint;
  let npmrc: string;
  const prefix = uniqueName('release');
  /** Plain npm in `cwd`, against the throwaway registry only. */
  const npm = (cwd: string, args: string[], env: Record<string, string> = {}) =>
    run('npm', ['--userconfig', npmrc, '--no-audit', '--no-fund', ...args], {
      cwd,
      env: { ...process.env, npm_config_registry: registryUrl, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tq-release-'));
    const config = join(work, 'verdaccio.yaml');
    await writeFile(
      config,
      [
        `storage: ${join(work, 'storage')}`,
        'auth:',
        '  htpasswd:',
        `    file: ${join(work, 'htpasswd')}`,
        'uplinks:',
        '  npmjs:',
        `    url: ${process.env.npm_config_registry ?? 'https://registry.npmjs.org/'}`,
        'packages:',
        "  '@tq/*':",
        '    access: $all',
        '    publish: $authenticated',
        "  '**':",
        '    access: $all',
        '    proxy: npmjs',
        'log: { type: stdout, format: pretty, level: fatal }',
        '',
      ].join('\n'),
    );
    registry = (await runServer(config)) as Server;
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`;

    endpoint = await startLocalEndpoint();
    const clients = {
      sqs: new SQSClient(endpoint.clientConfig),
      sns: new SNSClient(endpoint.clientConfig),
      s3: new S3Client(endpoint.clientConfig),
    };
    await createProvisioner({ ...clients, topology: defineTopology({ prefix, bucket: false }) }).apply();
  }, 180_000);

  afterAll(async () => {
    registry?.closeAllConnections();
    await new Promise((resolve) => registry?.close(resolve));
    await endpoint?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('publishes every public package to the registry', async () => {
    const host = registryUrl.replace(/^http:/, '');
    const signup = await fetch(`${registryUrl}-/user/org.couchdb.user:release`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'release', password: 'release-test-password' }),
    });
    expect(signup.status).toBe(201);
    const { token } = (await signup.json()) as { token: string };
    npmrc = join(work, '.npmrc');
    await writeFile(npmrc, `registry=${registryUrl}\n${host}:_authToken=${token}\n`);

    const [pnpm, ...pnpmArgs] = await pnpmCommand();
    const packs = join(work, 'packs');
    for (const name of published) {
      await run(pnpm as string, [...pnpmArgs, 'pack', '--pack-destination', packs], {
        cwd: join(root, 'packages', name),
      });
    }
    const tarballs = (await readdir(packs)).sort();
    expect(tarballs).toEqual(published.map((name) => `tq-${name}-0.0.0.tgz`).sort());
    for (const tarball of tarballs) await npm(work, ['publish', join(packs, tarball)]);
  }, 300_000);

  it('a plain npm project installs @tq/producer-sdk, type-checks and sends a task', async () => {
    const scratch = join(work, 'scratch');
    await mkdir(join(scratch, 'src'), { recursive: true });
    const npmHere = (args: string[]) => npm(scratch, args);

    await writeFile(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, type: 'module' }, null, 2),
    );
    await npmHere(['install', '@tq/producer-sdk@0.0.0', '@types/node@20.19.43']);
    const manifest = JSON.parse(
      await readFile(join(scratch, 'node_modules', '@tq', 'producer-sdk', 'package.json'), 'utf8'),
    ) as { dependencies: Record<string, string>; exports: Record<string, unknown> };
    // What a user gets: real version ranges and no source condition pointing at files not shipped.
    expect(manifest.dependencies['@tq/contracts']).toBe('^0.0.0');
    expect(manifest.dependencies['@tq/aws']).toBe('^0.0.0');
    expect(manifest.dependencies['@tq/status']).toBe('^0.0.0');
    expect(JSON.stringify(manifest.exports)).not.toContain('@tq/source');

    await writeFile(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: 'dist',
          rootDir: 'src',
          types: ['node'],
        },
        include: ['src'],
      }),
    );
    await writeFile(
      join(scratch, 'src', 'main.ts'),
      [
        "import { createProducer, isProducerError, type SendResult } from '@tq/producer-sdk';",
        '',
        'const producer = createProducer();',
        'try {',
        "  const result: SendResult = await producer.send('send_email', {",
        "    to: ['release@example.com'],",
        "    subject: 'Installed from the registry',",
        "    text: 'It compiles and it sends.',",
        '  });',
        '  console.log(JSON.stringify(result));',
        '} catch (error) {',
        '  console.error(isProducerError(error) ? error.code : error);',
        '  process.exitCode = 1;',
        '} finally {',
        '  producer.close();',
        '}',
        '',
      ].join('\n'),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', scratch], { cwd: scratch });

    // The types are real: a wrong payload does not compile.
    await writeFile(
      join(scratch, 'src', 'wrong.ts'),
      "import { createProducer } from '@tq/producer-sdk';\nawait createProducer().send('send_email', { to: 'not-a-list', subject: 42 });\n",
    );
    const failed = await run(process.execPath, [tsc, '-p', scratch, '--noEmit'], { cwd: scratch }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(failed).toMatch(/wrong\.ts\(2,\d+\): error TS2322/);
    await rm(join(scratch, 'src', 'wrong.ts'));

    const { stdout } = await run(process.execPath, [join(scratch, 'dist', 'main.js')], {
      cwd: scratch,
      env: {
        ...process.env,
        TQ_ENDPOINT: endpoint.endpoint,
        TQ_PREFIX: prefix,
        AWS_REGION: endpoint.region,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    const result = JSON.parse(stdout) as { id: string; route: string };
    expect(result.route).toBe('topic');

    const sqs = new SQSClient(endpoint.clientConfig);
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-send_email` }));
    const [message] = await waitForMessages(sqs, QueueUrl as string, 1);
    const parsed = parseTask(message?.Body);
    expect(parsed.ok && parsed.envelope.id).toBe(result.id);
    sqs.destroy();
  }, 240_000);

  it("a team's path from the registry: tq init, npm install, npm test, tq up with a task sent and its status read back, tq add task, synth", async () => {
    const team = join(work, 'team');
    await mkdir(team);
    // `npx @tq/cli init`: the CLI fetched from the registry, in a folder outside any workspace. By
    // its tarball's URL (what npx downloads for `@tq/cli@0.0.0`): npx keeps what it installed under
    // the spec it was given, and every run here publishes 0.0.0, so the name would reuse an earlier
    // run's CLI; the URL carries this run's registry port.
    await npm(team, [
      'exec',
      '--yes',
      '--package',
      `${registryUrl}@tq/cli/-/cli-0.0.0.tgz`,
      '--',
      'tq',
      'init',
      'shop',
      '--task',
      'send_invoice',
    ]);
    const shop = join(team, 'shop');
    await npm(shop, ['install']);
    const installed = JSON.parse(await readFile(join(shop, 'node_modules', '@tq', 'cli', 'package.json'), 'utf8'));
    expect(installed.version).toBe('0.0.0');
    const tested = await npm(shop, ['test']);
    // npm test checks the contracts against the lock tq init wrote, then runs the worker's test.
    expect(tested.stdout).toContain('tq: the contracts match tq.contracts.json');
    expect(tested.stdout).toMatch(/1 passed/);
    await npm(shop, ['run', 'typecheck']);

    const tq = join(shop, 'node_modules', '.bin', 'tq');
    const teamPrefix = uniqueName('team');
    const env = {
      ...process.env,
      TQ_ENDPOINT: endpoint.endpoint,
      TQ_PREFIX: teamPrefix,
      TQ_BUCKET: `${teamPrefix}-artifacts`,
      AWS_REGION: endpoint.region,
      TQ_HTTP_PORT: 'off',
    };
    const tqRun = (args: string[]) => run(tq, args, { cwd: shop, env });
    await tqRun(['provision']);
    const up = spawnCommand(tq, ['up', '--memory', '--no-console', '--smtp-port', '0'], { cwd: shop, env });
    try {
      await waitForOutput(up, /send-invoice\s.*worker started/);
      const sent = await tqRun(['send', 'send_invoice', '{"message":"hello from the registry"}']);
      const id = sent.stdout.split('\n')[0]?.trim() ?? '';
      const status = await tqRun(['status', id, '--wait', '--json']);
      expect(JSON.parse(status.stdout)).toMatchObject({
        state: 'succeeded',
        result: { echo: 'hello from the registry' },
      });
      // Validated against the project's schema: exit 2, nothing sent.
      const invalid = await tqRun(['send', 'send_invoice', '{"msg":1}']).then(
        () => 0,
        (error: { code: number }) => error.code,
      );
      expect(invalid).toBe(2);
    } finally {
      up.kill('SIGTERM');
      await waitForExit(up);
    }

    const added = await tqRun(['add', 'task', 'refund_order']);
    expect(added.stdout.split('\n')[0]).toBe('~ tq.config.ts');
    await npm(shop, ['run', 'typecheck']);
    const synth = await npm(shop, ['run', 'synth']);
    expect(synth.stdout).toContain('tq: 3 stacks in cdk.out: ShopCore, ShopSendInvoiceWorker, ShopRefundOrderWorker');
    const core = JSON.parse(await readFile(join(shop, 'cdk.out', 'ShopCore.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { QueueName?: string } }>;
    };
    expect(
      Object.values(core.Resources)
        .filter((resource) => resource.Type === 'AWS::SQS::Queue')
        .map((resource) => resource.Properties.QueueName)
        .sort(),
    ).toEqual(['shop-refund_order', 'shop-refund_order-dlq', 'shop-send_invoice', 'shop-send_invoice-dlq']);
    // The CDK CLI runs the same app (cdk.json: npx tq synth), offline, as `npm run deploy` would before deploying.
    const out = join(work, 'cdk-cli-out');
    expect(await cdkSynthOffline(join(shop, 'node_modules', '.bin', 'cdk'), shop, out)).toEqual([
      'ShopCore.template.json',
      'ShopRefundOrderWorker.template.json',
      'ShopSendInvoiceWorker.template.json',
    ]);
  }, 1_200_000);
});
