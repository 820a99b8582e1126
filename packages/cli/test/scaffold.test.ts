// tq init and tq add task, as a team starts: a new folder outside any workspace, the @tq packages
// linked in (the release check installs them from a registry instead), every tool on its tasks.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type LocalEndpoint, startLocalEndpoint, uniqueName, waitForExit } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTask, taskNames } from '../src/scaffold/index.js';
import { runTq, spawnTq, waitForOutput } from './run-cli.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');

describe('tq init and tq add task: a project of its own from nothing', () => {
  let endpoint: LocalEndpoint;
  let work: string;
  let project: string;
  const prefix = uniqueName('init');
  let env: Record<string, string>;
  /** tsc on the project, with the linked packages' source types (no build needed). */
  const typecheck = () =>
    run(process.execPath, [
      join(repo, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      project,
      '--customConditions',
      '@tq/source',
      '--typeRoots',
      join(repo, 'node_modules', '@types'),
    ]);

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    work = mkdtempSync(join(tmpdir(), 'tq-init-'));
    project = join(work, 'shop');
    env = { TQ_ENDPOINT: endpoint.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: `${prefix}-artifacts` };
  });
  afterAll(async () => {
    await endpoint?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('tq init writes the smallest project that runs and tests itself', async () => {
    const init = await runTq(['init', 'shop', '--task', 'send_invoice'], env, undefined, work);
    expect(init.code, init.output).toBe(0);
    expect(
      init.output
        .split('\n')
        .filter((line) => line.startsWith('+ '))
        .sort(),
    ).toEqual(
      [
        '+ .dockerignore',
        '+ .gitignore',
        '+ Dockerfile',
        '+ README.md',
        '+ cdk.json',
        '+ package.json',
        '+ tasks/send-invoice.ts',
        '+ tq.config.ts',
        '+ tq.contracts.json',
        '+ tsconfig.json',
        '+ workers/send-invoice/handler.test.ts',
        '+ workers/send-invoice/handler.ts',
        '+ workers/send-invoice/main.ts',
      ].sort(),
    );
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    expect(manifest.scripts).toMatchObject({
      up: 'tq up',
      test: 'tq contracts check && vitest run',
      synth: 'tq synth',
      deploy: 'cdk deploy --all',
      release: 'tq contracts check && cdk deploy --all && tq contracts lock',
    });
    expect(JSON.parse(readFileSync(join(project, 'cdk.json'), 'utf8'))).toEqual({
      app: 'npx tq synth',
      context: { 'tq:prefix': 'shop' },
    });
    expect(manifest.dependencies['@tq/worker']).toMatch(/^\^\d+\.\d+\.\d+/);
    expect(readFileSync(join(project, 'README.md'), 'utf8')).toContain('npm install && npm run up');
    const again = await runTq(['init', 'shop'], env, undefined, work);
    expect(again.code).toBe(2);
    expect(again.output.trim()).toBe('tq: shop is not empty: tq init makes a project in a new or empty folder');
    // The packages a registry install would bring, linked from this repository.
    mkdirSync(join(project, 'node_modules', '@tq'), { recursive: true });
    for (const name of ['contracts', 'worker', 'producer-sdk', 'testing', 'cdk']) {
      symlinkSync(join(repo, 'packages', name), join(project, 'node_modules', '@tq', name), 'dir');
    }
    // The CDK library @tq/cdk is built with: one copy, as npm would hoist it.
    for (const name of ['aws-cdk-lib', 'constructs']) {
      symlinkSync(
        realpathSync(join(repo, 'packages', 'cdk', 'node_modules', name)),
        join(project, 'node_modules', name),
        'dir',
      );
    }
    mkdirSync(join(project, 'node_modules', '@aws-sdk'), { recursive: true });
    const sqs = join(repo, 'packages', 'testing', 'node_modules', '@aws-sdk', 'client-sqs');
    symlinkSync(sqs, join(project, 'node_modules', '@aws-sdk', 'client-sqs'), 'dir');
    symlinkSync(join(repo, 'node_modules', 'vitest'), join(project, 'node_modules', 'vitest'), 'dir');
  });

  it('every tool works on its task, typed, and tq up runs its worker: the result comes back', async () => {
    const schema = await runTq(['schema', 'send_invoice'], env, undefined, project);
    expect(schema.code, schema.output).toBe(0);
    expect(JSON.parse(schema.output).properties.payload.required).toEqual(['message']);
    expect((await runTq(['schema', 'send_email'], env, undefined, project)).code).toBe(2);
    // The lock tq init wrote is what its task file defines: npm test's contracts check passes.
    const contracts = await runTq(['contracts', 'check'], env, undefined, project);
    expect(contracts.code, contracts.output).toBe(0);
    expect(contracts.output.trim()).toBe('tq: the contracts match tq.contracts.json');
    // The scaffold type-checks: payloads and results are typed from the config, no declaration to write.
    await typecheck();
    // Its own test (npm test), with the packages' source as this repository's tests read them.
    writeFileSync(
      join(project, 'vitest.config.mjs'),
      "export default { resolve: { conditions: ['@tq/source'] }, ssr: { resolve: { conditions: ['@tq/source'] } } };\n",
    );
    const vitest = await run(process.execPath, [join(repo, 'node_modules', 'vitest', 'vitest.mjs'), 'run'], {
      cwd: project,
    });
    expect(vitest.stdout).toMatch(/1 passed/);
    expect((await runTq(['provision'], env, undefined, project)).code).toBe(0);
    const up = spawnTq(['up', '--memory', '--no-console'], { ...env, TQ_HTTP_PORT: 'off' }, project);
    try {
      await waitForOutput(up, /send-invoice-worker .*worker started|send-invo.*worker started/);
      const sent = await runTq(['send', 'send_invoice', '{"message":"hello"}'], env, undefined, project);
      expect(sent.code, sent.output).toBe(0);
      const id = sent.output.split('\n')[0]?.trim() ?? '';
      const status = await runTq(['status', id, '--wait', '--json'], env, undefined, project);
      expect(status.code, status.output).toBe(0);
      expect(JSON.parse(status.output)).toMatchObject({ state: 'succeeded', result: { echo: 'hello' } });
    } finally {
      up.kill('SIGTERM');
      await waitForExit(up);
    }
  });

  it('tq add task touches the config, the task file and its worker folder, nothing else', async () => {
    const added = await runTq(['add', 'task', 'refund_order'], env, undefined, project);
    expect(added.code, added.output).toBe(0);
    expect(added.output.trim().split('\n')).toEqual([
      '~ tq.config.ts',
      '+ tasks/refund-order.ts',
      '+ workers/refund-order/handler.ts',
      '+ workers/refund-order/main.ts',
      '+ workers/refund-order/handler.test.ts',
    ]);
    const schema = await runTq(['schema', 'refund_order'], env, undefined, project);
    expect(schema.code, schema.output).toBe(0);
    // A new task is an additive change to the released contracts: npm test's check passes.
    const contracts = await runTq(['contracts', 'check'], env, undefined, project);
    expect(contracts.code, contracts.output).toBe(0);
    expect(contracts.output).toContain('tq: additive: refund_order v1 $: task-added (a new task)');
    const stats = await runTq(['provision', '--dry-run'], env, undefined, project);
    expect(stats.output).toContain(`+ create queue ${prefix}-refund_order`);
    await typecheck();
    // Its AWS app: the project's tasks and apps, the new one included, built from its Dockerfile.
    const synth = await runTq(['synth'], env, undefined, project);
    expect(synth.code, synth.output).toBe(0);
    expect(synth.output.trim()).toBe('tq: 3 stacks in cdk.out: ShopCore, ShopSendInvoiceWorker, ShopRefundOrderWorker');
    const core = JSON.parse(readFileSync(join(project, 'cdk.out', 'ShopCore.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { QueueName?: string } }>;
    };
    const queues = Object.values(core.Resources)
      .filter((resource) => resource.Type === 'AWS::SQS::Queue')
      .map((resource) => resource.Properties.QueueName)
      .sort();
    expect(queues).toEqual([
      'shop-refund_order',
      'shop-refund_order-dlq',
      'shop-send_invoice',
      'shop-send_invoice-dlq',
    ]);
    const assets = JSON.parse(readFileSync(join(project, 'cdk.out', 'ShopRefundOrderWorker.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: { dockerBuildArgs: Record<string, string> } }>;
    };
    expect(Object.values(assets.dockerImages).map((image) => image.source.dockerBuildArgs)).toEqual([
      { TQ_APP: 'refund-order-worker', TQ_MAIN: 'workers/refund-order/main.ts' },
    ]);
    const twice = await runTq(['add', 'task', 'refund_order'], env, undefined, project);
    expect(twice.code).toBe(2);
    expect(twice.output).toContain('task "refund_order" is defined already');
    const bad = await runTq(['add', 'task', 'Refund-Order'], env, undefined, project);
    expect(bad.code).toBe(2);
    expect(bad.output.trim()).toMatch(/^tq: task name "Refund-Order" must be lowercase snake_case/);
  });

  it('a config it cannot edit gets the lines to add by hand', () => {
    expect(() => registerTask('export default {};\n', taskNames('refund_order'), 'tq.config.ts')).toThrow(
      "add by hand import { refundOrder } from './tasks/refund-order.js';",
    );
  });
});
