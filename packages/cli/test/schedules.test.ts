import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { nextRunsOfExpression } from '@tq/topology';
import { describe, expect, it } from 'vitest';
import { runTq, spawnTq, waitForOutput } from './run-cli.js';

const report = {
  title: 'Nightly sales',
  columns: [{ key: 'region', label: 'Region' }],
  rows: [{ region: 'north' }],
  destination: 's3://tq-artifacts/reports/nightly.pdf',
};

async function file(name: string, content: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tq-schedules-'));
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

describe('schedules from the command line', () => {
  const local = useLocalEndpoint();

  it('refuses a schedules file with an invalid payload before anything starts, naming the field', async () => {
    const bad = await file('bad.json', {
      schedules: [
        { name: 'nightly', task: 'generate_report', payload: { ...report, destination: 'nowhere' }, cron: '0 2 * * *' },
      ],
    });
    const result = await runTq(
      ['up', '--port', '0', '--smtp-port', '0', '--memory', '--no-workers', '--schedules', bad],
      {
        TQ_ENDPOINT: '',
      },
    );
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/invalid schedules in .*bad\.json/);
    expect(result.output).toContain('schedule "nightly": /payload/destination');
    expect(result.output).not.toContain('endpoint http');
  });

  it('tq provision --schedules converges them; tq schedules lists them with their next runs', async () => {
    const prefix = uniqueName('cs');
    const env = { TQ_ENDPOINT: local.endpoint.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: '' };
    const schedules = await file('tq.schedules.json', [
      { name: 'nightly-report', task: 'generate_report', payload: report, cron: '0 2 * * *', timezone: 'Europe/Paris' },
      {
        name: 'hourly-digest',
        task: 'send_email',
        payload: { to: ['ops@example.com'], subject: 'Digest', text: 'x' },
        rate: '1 hour',
      },
    ]);
    const provisioned = await runTq(['provision', '--schedules', schedules], env);
    expect(provisioned.code).toBe(0);
    expect(provisioned.output).toContain(`+ create schedule ${prefix}/nightly-report`);
    expect(provisioned.output).toContain(`+ create schedule ${prefix}/hourly-digest`);
    const again = await runTq(['provision', '--schedules', schedules], env);
    expect(again.output.trim()).toBe(`tq: ${prefix} is up to date on ${local.endpoint.endpoint}`);

    const listed = await runTq(['schedules'], env);
    expect(listed.code).toBe(0);
    expect(listed.output).toMatch(
      /nightly-report\s+generate_report\s+cron\(0 2 \* \* \? \*\)\s+Europe\/Paris\s+enabled/,
    );
    expect(listed.output).toMatch(/hourly-digest\s+send_email\s+rate\(1 hour\)\s+UTC\s+enabled/);
    const json = JSON.parse((await runTq(['schedules', '--json', '--next', '2'], env)).output) as {
      schedules: { name: string; next: string[] }[];
    };
    const nightly = json.schedules.find((schedule) => schedule.name === 'nightly-report');
    const expected = nextRunsOfExpression('cron(0 2 * * ? *)', 'Europe/Paris', 2).map((date) => date.toISOString());
    expect(nightly?.next).toEqual(expected);
    expect(new Date(expected[0] as string).getUTCHours()).toBeLessThanOrEqual(1); // 02:00 in Paris is 00:00 or 01:00 UTC
  });

  it('tq send --at beyond 15 minutes holds the task in a one-time schedule that tq schedules --all shows', async () => {
    const prefix = uniqueName('at');
    const env = { TQ_ENDPOINT: local.endpoint.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: '' };
    expect((await runTq(['provision'], env)).code).toBe(0);
    const at = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const sent = await runTq(
      ['send', 'send_email', '{"to":["ada@example.com"],"subject":"Later","text":"x"}', '--at', at],
      env,
    );
    expect(sent.code).toBe(0);
    const id = sent.output.split('\n')[0]?.trim();
    expect(sent.output).toContain(`via a one-time schedule for ${at.replace('Z', '.000Z')}`);
    const listed = await runTq(['schedules', '--all'], env);
    expect(listed.output).toMatch(new RegExp(`once-${id}\\s+send_email\\s+at\\(${at.slice(0, 19)}\\)`));
    expect((await runTq(['schedules'], env)).output).not.toContain(`once-${id}`);
    const bad = await runTq(
      ['send', 'send_email', '{"to":["ada@example.com"],"subject":"x","text":"x"}', '--at', 'tomorrow'],
      env,
    );
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('--at is "tomorrow"');
  });

  it('tq up runs the file: a 1 s rate sends a mail a second through the real workers', async () => {
    const schedules = await file('tq.schedules.json', [
      {
        name: 'heartbeat',
        task: 'send_email',
        payload: { to: ['ops@example.com'], subject: 'Heartbeat', text: 'still here' },
        rate: '1 second',
      },
    ]);
    const mailDir = await mkdtemp(join(tmpdir(), 'tq-mail-'));
    const child = spawnTq(
      ['up', '--port', '0', '--smtp-port', '0', '--memory', '--mail-dir', mailDir, '--schedules', schedules],
      {
        TQ_ENDPOINT: '',
        TQ_PREFIX: uniqueName('hb'),
        TQ_HTTP_PORT: '0',
      },
    );
    try {
      await waitForOutput(child, /schedule heartbeat: send_email rate\(1 second\), next /);
      await waitForOutput(child, /1 schedule\(s\) from .*tq\.schedules\.json/);
      await waitForOutput(child, /schedule heartbeat fired for /);
      // Three mails, each from its own firing (distinct idempotency keys: one per scheduled second).
      const mails = () => (child.output().match(/mail "Heartbeat" to ops@example\.com/g) ?? []).length;
      while (mails() < 3) {
        if (child.exitCode !== null) throw new Error(`tq up exited:\n${child.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      child.kill('SIGINT');
      await once(child, 'exit');
    }
  });
});
