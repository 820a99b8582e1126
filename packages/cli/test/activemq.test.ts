import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTq, spawnTq, waitForOutput } from './run-cli.js';

describe('tq up with TQ_ACTIVEMQ=1: a local ActiveMQ and the bridge', () => {
  it('forwards the demo email task to ActiveMQ, shows the broker queues in tq stats, and stops the broker', async () => {
    const mailDir = join(tmpdir(), `tq-amq-${process.pid}-${Date.now()}`);
    const up = spawnTq(
      [
        'up',
        '--port',
        '0',
        '--smtp-port',
        '0',
        '--activemq-port',
        '0',
        '--openwire-port',
        '0',
        '--mail-dir',
        mailDir,
        '--memory',
      ],
      { TQ_ENDPOINT: '', TQ_PREFIX: 'amqdemo', SMTP_URL: '', TQ_ACTIVEMQ: '1', TQ_ACTIVEMQ_URL: '' },
    );
    try {
      const [, endpoint] = (await waitForOutput(up, /endpoint (http:\/\/127\.0\.0\.1:\d+) \(embedded\)/)) as string[];
      const [, broker] = (await waitForOutput(up, /ActiveMQ (stomp:\/\/127\.0\.0\.1:\d+) \(STOMP\)/)) as string[];
      await waitForOutput(up, /workers: email-worker, image-worker, cleanup-worker, report-worker, activemq-bridge/);
      await waitForOutput(up, new RegExp(`export TQ_ENDPOINT=${endpoint} AWS_REGION=\\S+ TQ_ACTIVEMQ_URL=${broker}`));
      await waitForOutput(up, /activemq\s+info\s+taking tasks from ActiveMQ into tq/);
      const env = { TQ_ENDPOINT: endpoint, TQ_PREFIX: 'amqdemo', SMTP_URL: '', TQ_ACTIVEMQ_URL: broker };
      const demo = await runTq(['demo', '--mail-dir', mailDir, '--timeout', '150'], env);
      expect(demo.code, demo.output).toBe(0);
      expect(demo.output).toMatch(
        /✓ activemq\s+send_email [0-9a-f-]+ is on ActiveMQ amqdemo\.send_email \(persistent=true, tq_task=send_email\)/,
      );
      // The broker answers statistics within tq stats' short wait (1.5 s) once it is not busy: on a
      // loaded machine an answer may miss it, and the depth shows as '-'; ask again until it does not.
      const statsUntil = async (args: string[], answered: (output: string) => boolean) => {
        let result = await runTq(args, env);
        for (let tries = 1; tries < 30 && result.code === 0 && !answered(result.output); tries++) {
          result = await runTq(args, env);
        }
        return result;
      };
      const depth = /\nsend_email\s+\d+\s+\d+\s+amqdemo\.send_email\s+[1-9]\d*\s+0\s+[1-9]/;
      const stats = await statsUntil(['stats'], (output) => depth.test(output));
      expect(stats.code, stats.output).toBe(0);
      expect(stats.output).toContain(`ActiveMQ at ${broker}\n`);
      // The demo's email task waits on the broker (nothing consumes it here).
      expect(stats.output).toMatch(depth);
      expect(stats.output).toMatch(/\ningest\s+-\s+-\s+amqdemo\.ingest\s+0\s+1/);
      type Stats = { activemq: { broker: string; rows: { name: string; depth?: number }[] } };
      const parse = (output: string) => JSON.parse(output.trim().split('\n').at(-1) as string) as Stats;
      const json = await statsUntil(['stats', '--json'], (output) =>
        parse(output).activemq.rows.some((row) => row.name === 'send_email' && row.depth !== undefined),
      );
      const parsed = parse(json.output);
      expect(parsed.activemq.broker).toBe(broker);
      expect(parsed.activemq.rows.find((row) => row.name === 'send_email')?.depth).toBeGreaterThanOrEqual(1);

      up.kill('SIGINT');
      const [code] = await once(up, 'exit');
      expect(code, up.output()).toBe(0);
      expect(up.output()).toContain('activemq info  ActiveMQ bridge stopped');
      expect(up.output()).not.toMatch(/exited \(/);
      // The broker stopped with the rest: its STOMP port is closed.
      const closed = await runTq(['stats'], env);
      expect(closed.output).toMatch(/ActiveMQ at stomp:\/\/127\.0\.0\.1:\d+: not answering|connect ECONNREFUSED/);
    } finally {
      up.kill('SIGKILL');
    }
  }, 400_000);
});
