import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTq, spawnTq, waitForOutput } from './run-cli.js';

describe('tq up with every worker, and tq demo against it', () => {
  it('runs the whole system: each task type is processed and tq demo shows where each result is', async () => {
    const mailDir = join(tmpdir(), `tq-demo-${process.pid}-${Date.now()}`);
    const up = spawnTq(['up', '--port', '0', '--smtp-port', '0', '--mail-dir', mailDir, '--memory'], {
      TQ_ENDPOINT: '',
      TQ_PREFIX: 'demo',
      SMTP_URL: '',
    });
    try {
      const [, endpoint] = (await waitForOutput(up, /endpoint (http:\/\/127\.0\.0\.1:\d+) \(embedded\)/)) as string[];
      await waitForOutput(up, /workers: email-worker, image-worker, cleanup-worker, report-worker/);
      // Each worker logs once it polls its queue.
      for (const app of ['cleanup', 'email', 'image', 'report']) {
        await waitForOutput(up, new RegExp(`${app}\\s+info\\s+worker started`));
      }
      const demo = await runTq(['demo', '--mail-dir', mailDir, '--timeout', '150'], {
        TQ_ENDPOINT: endpoint,
        TQ_PREFIX: 'demo',
        SMTP_URL: '',
      });
      expect(demo.code, demo.output).toBe(0);
      expect(demo.output).toMatch(/✓ send_email\s+sent to demo@example\.com as <[^>]+>, mail .*\.eml/);
      expect(demo.output).toMatch(
        /✓ process_image\s+s3:\/\/demo-artifacts\/demo\/\d+\/images\/thumb\.webp \(200x200\), medium\.jpg \(800x533\)/,
      );
      expect(demo.output).toMatch(/✓ cleanup_data\s+.*cleaned\.csv \(3 of 8 rows kept, 3 rejected, 1 duplicate\)/);
      expect(demo.output).toMatch(
        /✓ generate_report\s+s3:\/\/demo-artifacts\/demo\/\d+\/report\.pdf \(\d+ pages\), emailed \(send_email [0-9a-f-]+\) as /,
      );
      expect(demo.output).toContain('tq demo: all four tasks done');
      // The logs are prefixed per app, and mails are listed as they arrive.
      expect(up.output()).toMatch(/image\s+info\s+task succeeded/);
      expect(up.output()).toMatch(/tq: mail "tq demo \d+: hello" to demo@example\.com -> /);
      expect((await readdir(mailDir)).filter((file) => file.endsWith('.eml'))).toHaveLength(2);

      // Run where the mail folder is not (mail going to SMTP_URL, or another folder): every task is
      // confirmed from its status, not from a file that is elsewhere.
      const [, smtpUrl] = /SMTP sink (smtp:\/\/\S+),/.exec(up.output()) ?? [];
      const elsewhere = await runTq(['demo', '--mail-dir', join(tmpdir(), 'no-mail-here'), '--timeout', '150'], {
        TQ_ENDPOINT: endpoint,
        TQ_PREFIX: 'demo',
        SMTP_URL: smtpUrl,
      });
      expect(elsewhere.code, elsewhere.output).toBe(0);
      expect(elsewhere.output).toMatch(/✓ send_email\s+sent to demo@example\.com as <[^>]+>\n/);
      expect(elsewhere.output).toMatch(
        /✓ generate_report\s+.*report\.pdf \(\d+ pages\), emailed \(send_email [0-9a-f-]+\)\n/,
      );

      up.kill('SIGINT');
      const [code] = await once(up, 'exit');
      expect(code, up.output()).toBe(0);
      expect(up.output()).toContain('tq: stopped');
      expect(up.output()).not.toMatch(/exited \(/);
    } finally {
      up.kill('SIGKILL');
    }
  }, 300_000);
});
