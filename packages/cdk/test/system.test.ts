// buildSystem on a project of its own: its tasks, its apps, its settings and secrets, its Dockerfile.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig, defineTask, Type } from '@tq/contracts';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSystem, stackName } from '../src/index.js';

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

const invoice = defineTask({
  name: 'send_invoice',
  description: 'Sends an invoice',
  versions: { 1: { schema: Type.Object({ order: Type.String() }) } },
  scaling: { maxTasks: 3, cpu: 1024, memoryMiB: 2048 },
});
const refund = defineTask({
  name: 'refund_order',
  description: 'Refunds an order',
  versions: { 1: { schema: Type.Object({ order: Type.String() }) } },
  fifo: true,
});
const config = defineConfig({
  tasks: [invoice, refund],
  workers: {
    invoicing: {
      task: 'send_invoice',
      main: 'workers/invoicing/main.ts',
      environment: { INVOICE_FROM: 'billing@example.com' },
      secrets: { PAYMENT_API_KEY: 'payment-api-key' },
    },
    refunds: { task: 'refund_order', main: 'workers/refunds/main.ts', secrets: { PAYMENT_API_KEY: 'payment-api-key' } },
  },
});

const root = mkdtempSync(join(tmpdir(), 'tq-cdk-project-'));
writeFileSync(join(root, 'Dockerfile'), 'FROM node:20-bookworm-slim\nARG TQ_MAIN\n');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function synth(context: Record<string, string> = {}) {
  const app = new App({ context: { 'tq:prefix': 'shop', ...context }, outdir: mkdtempSync(join(root, 'out-')) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  const system = buildSystem(app, config, { root });
  return { system, assembly: app.synth() };
}

describe('buildSystem: a project of its own on AWS', () => {
  const { assembly } = synth();

  it("is a core stack and one stack per app of the config, named after the project's prefix", () => {
    expect(assembly.stacks.map((stack) => stack.stackName).sort()).toEqual(
      ['ShopCore', 'ShopInvoicing', 'ShopRefunds'].sort(),
    );
    expect(stackName('send-invoice-worker', 'shop')).toBe('ShopSendInvoiceWorker');
    expect(stackName('email-worker')).toBe('TqEmailWorker');
    const core = assembly.getStackByName('ShopCore').template as Template;
    const queues = Object.values(core.Resources)
      .filter((resource) => resource.Type === 'AWS::SQS::Queue')
      .map((resource) => resource.Properties.QueueName)
      .sort();
    expect(queues).toEqual(
      ['shop-refund_order-dlq.fifo', 'shop-refund_order.fifo', 'shop-send_invoice', 'shop-send_invoice-dlq'].sort(),
    );
    // The project's apps, not the built-in ones: no queue of a task it does not define.
    expect(JSON.stringify(core)).not.toContain('send_email');
  });

  it("gives each app its config's settings and secrets (one secret per name, made by the core)", () => {
    const core = assembly.getStackByName('ShopCore').template as Template;
    const secrets = Object.values(core.Resources).filter((r) => r.Type === 'AWS::SecretsManager::Secret');
    expect(secrets.map((secret) => secret.Properties.Name)).toEqual(['shop/payment-api-key']);
    const invoicing = assembly.getStackByName('ShopInvoicing').template as Template;
    const definition = Object.values(invoicing.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
    const container = (definition?.Properties.ContainerDefinitions as Record<string, unknown>[] | undefined)?.[0] as {
      Environment: { Name: string; Value: unknown }[];
      Secrets: { Name: string }[];
    };
    expect(container.Environment).toContainEqual({ Name: 'INVOICE_FROM', Value: 'billing@example.com' });
    expect(container.Secrets.map((secret) => secret.Name)).toEqual(['PAYMENT_API_KEY']);
    // Scaling and size from the task's definition.
    expect(definition?.Properties).toMatchObject({ Cpu: '1024', Memory: '2048' });
    const target = Object.values(invoicing.Resources).find(
      (r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget',
    );
    expect(target?.Properties.MaxCapacity).toBe(3);
  });

  it("builds every app from the project's one Dockerfile, told which app by build arguments", () => {
    for (const [stack, app, main] of [
      ['ShopInvoicing', 'invoicing', 'workers/invoicing/main.ts'],
      ['ShopRefunds', 'refunds', 'workers/refunds/main.ts'],
    ] as const) {
      const manifest = JSON.parse(readFileSync(join(assembly.directory, `${stack}.assets.json`), 'utf8')) as {
        dockerImages: Record<string, { source: { directory: string; dockerBuildArgs: Record<string, string> } }>;
      };
      const images = Object.values(manifest.dockerImages);
      expect(images).toHaveLength(1);
      expect(images[0]?.source.dockerBuildArgs).toEqual({ TQ_APP: app, TQ_MAIN: main });
    }
    const core = assembly.getStackByName('ShopCore').template as Template;
    expect(Object.values(core.Resources).some((r) => r.Type === 'AWS::ECR::Repository')).toBe(false);
  });

  it('runs each app from its own repository at its tag with tq:images=ecr', () => {
    const { assembly: ecr } = synth({ 'tq:images': 'ecr', 'tq:tag:refunds': '2.0.1' });
    const core = ecr.getStackByName('ShopCore').template as Template;
    const repositories = Object.values(core.Resources).filter((r) => r.Type === 'AWS::ECR::Repository');
    expect(repositories.map((r) => r.Properties.RepositoryName).sort()).toEqual(['shop/invoicing', 'shop/refunds']);
    const refunds = JSON.stringify(ecr.getStackByName('ShopRefunds').template);
    expect(refunds).toMatch(/:2\.0\.1"/);
    expect(() => synth({ 'tq:images': 'docker' })).toThrow('tq:images is "docker": use ecr or asset');
  });

  it('names the missing Dockerfile and both ways to give one', () => {
    rmSync(join(root, 'Dockerfile'));
    try {
      expect(() => synth()).toThrow(/tq:images=asset needs .*invoicing\/Dockerfile .* or a Dockerfile in /);
    } finally {
      writeFileSync(join(root, 'Dockerfile'), 'FROM node:20-bookworm-slim\nARG TQ_MAIN\n');
    }
  });
});
