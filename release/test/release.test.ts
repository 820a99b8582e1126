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
import { type LocalEndpoint, startLocalEndpoint, uniqueName, waitForMessages } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { runServer } from 'verdaccio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const published = ['aws', 'contracts', 'producer-sdk', 'status'];

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
  const prefix = uniqueName('release');

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

  it('publishes @tq/contracts and @tq/producer-sdk; a plain npm project installs, type-checks and sends a task', async () => {
    const host = registryUrl.replace(/^http:/, '');
    const signup = await fetch(`${registryUrl}-/user/org.couchdb.user:release`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'release', password: 'release-test-password' }),
    });
    expect(signup.status).toBe(201);
    const { token } = (await signup.json()) as { token: string };

    const scratch = join(work, 'scratch');
    await mkdir(join(scratch, 'src'), { recursive: true });
    await writeFile(join(scratch, '.npmrc'), `registry=${registryUrl}\n${host}:_authToken=${token}\n`);
    const npm = (args: string[]) =>
      run('npm', [...args, '--userconfig', join(scratch, '.npmrc'), '--no-audit', '--no-fund'], {
        cwd: scratch,
        env: { ...process.env, npm_config_registry: registryUrl },
        maxBuffer: 16 * 1024 * 1024,
      });

    const [pnpm, ...pnpmArgs] = await pnpmCommand();
    const packs = join(work, 'packs');
    for (const name of published) {
      await run(pnpm as string, [...pnpmArgs, 'pack', '--pack-destination', packs], {
        cwd: join(root, 'packages', name),
      });
    }
    const tarballs = (await readdir(packs)).sort();
    expect(tarballs).toEqual([
      'tq-aws-0.0.0.tgz',
      'tq-contracts-0.0.0.tgz',
      'tq-producer-sdk-0.0.0.tgz',
      'tq-status-0.0.0.tgz',
    ]);
    for (const tarball of tarballs) await npm(['publish', join(packs, tarball)]);

    await writeFile(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, type: 'module' }, null, 2),
    );
    await npm(['install', '@tq/producer-sdk@0.0.0', '@types/node@20.19.43']);
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
});
