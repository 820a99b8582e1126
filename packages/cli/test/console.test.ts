import { once } from 'node:events';
import { uniqueName } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { describe, expect, it } from 'vitest';
import { spawnTq, waitForOutput } from './run-cli.js';

describe('tq console', () => {
  const local = useLocalEndpoint();

  it('serves the console for TQ_ENDPOINT on loopback and a free port, prints its link, stops on Ctrl-C', async () => {
    const prefix = uniqueName('web');
    const child = spawnTq(['console', '--read-only'], { TQ_ENDPOINT: local.endpoint.endpoint, TQ_PREFIX: prefix });
    try {
      const [, url] = (await waitForOutput(child, /tq: console (http:\/\/127\.0\.0\.1:\d+\/)/)) as string[];
      expect(child.output()).toContain('(read-only: set TQ_CONSOLE_TOKEN for write actions)');
      const page = await fetch(url as string);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>tq console</title>');
      const meta = (await (await fetch(new URL('/api/meta', url))).json()) as { prefix: string; readOnly: boolean };
      expect(meta).toEqual(expect.objectContaining({ prefix, readOnly: true }));
      child.kill('SIGINT');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
