import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { localClientConfig, startLocalEndpoint } from '@tq/testing';
import { describe, expect, it } from 'vitest';
import { runTq, spawnTq, waitForOutput } from './run-cli.js';

const mailDir = () => join(tmpdir(), `tq-mail-${process.pid}-${Math.random().toString(36).slice(2)}`);

describe('tq up', () => {
  it('runs the embedded endpoint on loopback with the bucket, and stops cleanly on SIGINT', async () => {
    const child = spawnTq(
      ['up', '--port', '0', '--smtp-port', '0', '--no-workers', '--mail-dir', mailDir(), '--memory'],
      {
        TQ_ENDPOINT: '',
        TQ_PREFIX: 'uptest',
      },
    );
    try {
      const [, endpoint] = (await waitForOutput(
        child,
        /endpoint (http:\/\/127\.0\.0\.1:\d+) \(embedded\)/,
      )) as string[];
      await waitForOutput(child, /ready/);
      const config = localClientConfig(endpoint as string);
      const buckets = await new S3Client(config).send(new ListBucketsCommand({}));
      expect(buckets.Buckets?.map((bucket) => bucket.Name)).toContain('uptest-artifacts');
      expect(child.output()).toContain('provisioned topic uptest-tasks');
      // The web console, on loopback with its write token in the link's fragment.
      const [, link] = child.output().match(/tq: console (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/) ?? [];
      expect(link).toBeDefined();
      const meta = (await (await fetch(new URL('/api/meta', link))).json()) as { prefix: string; readOnly: boolean };
      expect(meta).toMatchObject({ prefix: 'uptest', readOnly: false });
      // The banner's commands work as printed: the clone's ./tq script, by path from elsewhere.
      const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tq');
      expect(child.output()).toContain(`then try \`${resolve(script)} demo\``);
      // Ctrl-C reaches the process twice at once when `pnpm start` forwards it: still one clean stop.
      child.kill('SIGINT');
      child.kill('SIGINT');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(child.output()).toContain('tq: stopped');
      await expect(new SQSClient(config).send(new CreateQueueCommand({ QueueName: 'x' }))).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('keeps queues, messages and objects in its data folder across a restart; --reset starts empty', async () => {
    const dataDir = join(tmpdir(), `tq-data-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const up = async (...extra: string[]) => {
      const child = spawnTq(
        [
          'up',
          '--port',
          '0',
          '--smtp-port',
          '0',
          '--no-workers',
          '--mail-dir',
          mailDir(),
          '--data-dir',
          dataDir,
          ...extra,
        ],
        {
          TQ_ENDPOINT: '',
          TQ_PREFIX: 'kept',
        },
      );
      const [, endpoint] = (await waitForOutput(
        child,
        /endpoint (http:\/\/127\.0\.0\.1:\d+) \(embedded\)/,
      )) as string[];
      await waitForOutput(child, /ready/);
      return { child, endpoint: endpoint as string };
    };
    const stop = async (child: ReturnType<typeof spawnTq>) => {
      child.kill('SIGINT');
      expect((await once(child, 'exit'))[0]).toBe(0);
    };
    const first = await up();
    try {
      expect(first.child.output()).toContain('(new; `tq up --reset` starts empty)');
      const env = { TQ_ENDPOINT: first.endpoint, TQ_PREFIX: 'kept' };
      const sent = await runTq(
        ['send', 'send_email', JSON.stringify({ to: ['a@example.com'], subject: 'kept', text: 'x' })],
        env,
      );
      expect(sent.code, sent.output).toBe(0);
      const config = localClientConfig(first.endpoint);
      await new S3Client(config).send(
        new PutObjectCommand({ Bucket: 'kept-artifacts', Key: 'results/report.pdf', Body: '%PDF-1.7 kept' }),
      );
      await stop(first.child);
    } finally {
      first.child.kill('SIGKILL');
    }

    const second = await up();
    try {
      expect(second.child.output()).toMatch(/restored 8 queue\(s\), 1 message\(s\), 1 object\(s\)/);
      const env = { TQ_ENDPOINT: second.endpoint, TQ_PREFIX: 'kept' };
      const stats = await runTq(['stats', '--json'], env);
      expect(JSON.parse(stats.output).tasks).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ task: 'send_email', queue: expect.objectContaining({ visible: 1 }) }),
        ]),
      );
      const got = await runTq(['get', 's3://kept-artifacts/results/report.pdf', '-'], env);
      expect(got.code, got.output).toBe(0);
      expect(got.output).toContain('%PDF-1.7 kept');
      const target = join(tmpdir(), `tq-get-${process.pid}-${Math.random().toString(36).slice(2)}.pdf`);
      const saved = await runTq(['get', 's3://kept-artifacts/results/report.pdf', target], env);
      expect(saved.code, saved.output).toBe(0);
      expect(await readFile(target, 'utf8')).toBe('%PDF-1.7 kept');
      const again = await runTq(['get', 's3://kept-artifacts/results/report.pdf', target], env);
      expect(again.code).toBe(2);
      expect(again.output).toContain('exists: give another destination, or --force');
      const missing = await runTq(['get', 's3://kept-artifacts/results/nothing.pdf', '-'], env);
      expect(missing.code).toBe(1);
      expect(missing.output).toContain('s3://kept-artifacts/results/nothing.pdf does not exist');
      await stop(second.child);
    } finally {
      second.child.kill('SIGKILL');
    }

    const third = await up('--reset');
    try {
      expect(third.child.output()).toContain('(new; `tq up --reset` starts empty)');
      await stop(third.child);
    } finally {
      third.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('TQ_PHP_WORKER=1: send_email goes to the original PHP worker through the HTTP relay', async () => {
    const mails = mailDir();
    const child = spawnTq(['up', '--port', '0', '--smtp-port', '0', '--mail-dir', mails, '--memory'], {
      TQ_ENDPOINT: '',
      TQ_PREFIX: 'phpup',
      TQ_PHP_WORKER: '1',
      SMTP_URL: '',
    });
    try {
      const [, endpoint] = (await waitForOutput(
        child,
        /endpoint (http:\/\/127\.0\.0\.1:\d+) \(embedded\)/,
      )) as string[];
      await waitForOutput(child, /PHP worker http:\/\/127\.0\.0\.1:\d+\/worker\.php/);
      await waitForOutput(child, /http-relay\s+info\s+worker started/);
      expect(child.output()).not.toMatch(/email\s+info\s+worker started/);
      const sent = await runTq(
        ['send', 'send_email', JSON.stringify({ to: ['php@example.com'], subject: 'From PHP', text: 'via the relay' })],
        { TQ_ENDPOINT: endpoint, TQ_PREFIX: 'phpup' },
      );
      expect(sent.code, sent.output).toBe(0);
      await waitForOutput(child, /tq: mail "From PHP" to php@example\.com -> /);
      child.kill('SIGINT');
      expect((await once(child, 'exit'))[0]).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('uses the endpoint TQ_ENDPOINT names instead of starting one', async () => {
    const endpoint = await startLocalEndpoint();
    const child = spawnTq(['up', '--smtp-port', '0', '--no-workers', '--mail-dir', mailDir()], {
      TQ_ENDPOINT: endpoint.endpoint,
      TQ_PREFIX: 'shared',
    });
    try {
      await waitForOutput(child, /ready/);
      expect(child.output()).toContain(`endpoint ${endpoint.endpoint}, prefix shared, bucket shared-artifacts`);
      const buckets = await new S3Client(endpoint.clientConfig).send(new ListBucketsCommand({}));
      expect(buckets.Buckets?.map((bucket) => bucket.Name)).toContain('shared-artifacts');
      child.kill('SIGTERM');
      expect((await once(child, 'exit'))[0]).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await endpoint.stop();
    }
  });

  it('names the taken port and the flag that moves it, for the endpoint and the mail sink', async () => {
    const busy = await startLocalEndpoint();
    try {
      const endpoint = await runTq(
        ['up', '--port', String(busy.port), '--no-workers', '--mail-dir', mailDir(), '--memory'],
        {
          TQ_ENDPOINT: '',
        },
      );
      expect(endpoint.code).toBe(2);
      expect(endpoint.output).toContain(`tq: the endpoint's port ${busy.port} on 127.0.0.1 is in use`);
      expect(endpoint.output).toContain('--port');
      const smtp = await runTq(
        ['up', '--port', '0', '--smtp-port', String(busy.port), '--no-workers', '--mail-dir', mailDir(), '--memory'],
        { TQ_ENDPOINT: '', TQ_PREFIX: 'porttest' },
      );
      expect(smtp.code).toBe(2);
      expect(smtp.output).toContain(`tq: the mail sink's port ${busy.port} on 127.0.0.1 is in use`);
      expect(smtp.output).toContain('--smtp-port');
    } finally {
      await busy.stop();
    }
  });

  it('rejects bad configuration with one clear line and a non-zero exit', async () => {
    const result = await runTq(['up'], { TQ_ENDPOINT: 'not a url' });
    expect(result.code).toBe(1);
    expect(result.output.trim()).toBe(
      'tq: TQ_ENDPOINT is "not a url", must be an http(s) URL such as http://127.0.0.1:4566',
    );
  });
});

describe('tq', () => {
  it('prints help with exit 0, and exits 2 on an unknown command', async () => {
    const help = await runTq(['--help']);
    expect(help.code).toBe(0);
    expect(help.output).toContain('up [options]');
    const upHelp = await runTq(['up', '--help']);
    expect(upHelp.output).toContain('--port <port>');
    const unknown = await runTq(['nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain("unknown command 'nope'");
    const version = await runTq(['--version']);
    expect(version.code).toBe(0);
    expect(version.output.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const sendHelp = await runTq(['send', '--help']);
    expect(sendHelp.output).toContain('tq schema <task>');
  });

  it('without TQ_ENDPOINT or credentials, says it is talking to AWS and how to point it at tq up', async () => {
    const result = await runTq(['stats'], {
      TQ_ENDPOINT: undefined,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_CONFIG_FILE: '/nonexistent/tq-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/tq-credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('TQ_ENDPOINT is not set, so tq is talking to real AWS');
    expect(result.output).toContain('export TQ_ENDPOINT=http://127.0.0.1:4566');
  });
});
