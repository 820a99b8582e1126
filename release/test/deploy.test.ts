import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTask, encodeMessageBody } from '@tq/contracts';
import { type LocalEndpoint, type SmtpSink, startLocalEndpoint, startSmtpSink, uniqueName } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../../tq.config.js';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Every app folder of the repository: the config's worker apps, the relay and the bridge. */
const apps = readdirSync(join(root, 'apps'))
  .filter((name) => existsSync(join(root, 'apps', name, 'package.json')))
  .map((name) => ({ name }));

/**
 * Each app deploys as a self-contained folder (`pnpm run deploy`: its dist, its production
 * dependencies, its Dockerfile) that runs with plain `node dist/main.js`, outside the workspace.
 */
describe('apps deploy into folders that run with plain node', () => {
  let work: string;
  let endpoint: LocalEndpoint;
  let smtp: SmtpSink;
  const prefix = uniqueName('deploy');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tq-deploy-'));
    endpoint = await startLocalEndpoint();
    smtp = await startSmtpSink();
    const clients = {
      sqs: new SQSClient(endpoint.clientConfig),
      sns: new SNSClient(endpoint.clientConfig),
      s3: new S3Client(endpoint.clientConfig),
    };
    // With the ActiveMQ bridge's copy queues, which it reads.
    await createProvisioner({
      ...clients,
      topology: defineTopology({
        registry: config.registry,
        prefix,
        bucket: false,
        copies: [{ consumer: 'activemq' }],
      }),
    }).apply();
  });
  afterAll(async () => {
    await smtp?.stop();
    await endpoint?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('has a folder for each worker app of the config (its main inside) and the relay and the bridge besides', () => {
    for (const worker of config.workers) {
      expect(resolve(root, worker.main).startsWith(join(root, 'apps', worker.name, 'src')), worker.name).toBe(true);
      expect(existsSync(resolve(root, worker.main)), worker.main).toBe(true);
    }
    const others = apps.map((app) => app.name).filter((name) => !config.workers.some((w) => w.name === name));
    expect(others.sort()).toEqual(['activemq-bridge', 'http-relay']);
  });

  it('deploys every app, starts each with plain node, and the email worker delivers a task', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { packageManager: string };
    for (const { name: app } of apps) {
      await run('npx', ['-y', manifest.packageManager, 'run', 'deploy', join(work, app)], {
        cwd: join(root, 'apps', app),
        maxBuffer: 32 * 1024 * 1024,
      });
      const files = await readdir(join(work, app));
      // The bridge ships its broker's configuration too.
      const extra = app === 'activemq-bridge' ? ['activemq.xml'] : [];
      expect(files.sort()).toEqual(
        ['Dockerfile', 'README.md', ...extra, 'dist', 'node_modules', 'package.json', 'tq.config.mjs'].sort(),
      );
    }

    const children = apps.map(({ name: app }) => {
      const child = spawn(process.execPath, ['dist/main.js'], {
        cwd: join(work, app),
        // Only what a container would get: no workspace, no TypeScript loader, no source condition.
        env: {
          PATH: process.env.PATH,
          TQ_ENDPOINT: endpoint.endpoint,
          TQ_PREFIX: prefix,
          AWS_REGION: endpoint.region,
          SMTP_URL: smtp.url,
          EMAIL_FROM: 'Deployed <deployed@example.com>',
          TQ_HTTP_PORT: '0',
          // The relay serves any task type: one that nothing is sent to here, and a worker URL.
          ...(app === 'http-relay' ? { TQ_TASK: 'cleanup_data', RELAY_URL: 'http://127.0.0.1:9/tasks' } : {}),
          // The bridge starts without its broker (it is not ready until one answers).
          ...(app === 'activemq-bridge' ? { TQ_ACTIVEMQ_URL: 'stomp://127.0.0.1:9' } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      return { app, child, output: () => output };
    });
    try {
      for (const { app, child, output } of children) {
        // Generous: four Node processes start at once on a possibly busy machine.
        const deadline = Date.now() + 120_000;
        // The bridge names its health address on a line of its own, which may follow "worker started".
        const ready = () =>
          output().includes('"msg":"worker started"') && /"http":"http:\/\/127\.0\.0\.1:\d+"/.test(output());
        while (!ready()) {
          if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${app} did not start:\n${output()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(output(), app).not.toContain('NodeVersionSupportWarning');
        const http = /"http":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output())?.[1];
        expect((await fetch(`${http}/healthz`)).status, app).toBe(200);
      }

      const sqs = new SQSClient(endpoint.clientConfig);
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-send_email` }));
      const task = createTask('send_email', {
        to: ['ops@example.com'],
        subject: 'From the deployed folder',
        text: 'ok',
      });
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: encodeMessageBody(task) }));
      const [mail] = await smtp.waitFor(1, { where: (m) => m.parsed.subject === 'From the deployed folder' });
      expect(mail?.parsed.messageId).toBe(`<${task.id}@example.com>`);
      sqs.destroy();

      for (const { child } of children) child.kill('SIGTERM');
      for (const { app, child, output } of children) {
        const [code] = child.exitCode === null ? await once(child, 'exit') : [child.exitCode];
        expect(code, `${app}:\n${output()}`).toBe(0);
      }
    } finally {
      for (const { child } of children) child.kill('SIGKILL');
    }
  }, 900_000);
});
