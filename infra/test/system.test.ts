import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stackName } from '@tq/cdk';
import { cdkSynthOffline } from '@tq/testing';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import config from '../../tq.config.js';
import { buildRepositorySystem } from '../src/system.js';

const WORKER_APPS = config.workers;

const infra = fileURLToPath(new URL('..', import.meta.url));
const cdkJson = JSON.parse(await readFile(join(infra, 'cdk.json'), 'utf8')) as { context: Record<string, string> };

/** The app as `cdk synth` builds it, with cdk-nag, and the context of cdk.json plus `context`. */
function synth(context: Record<string, string> = {}) {
  const app = new App({ context: { ...cdkJson.context, ...context } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  const system = buildRepositorySystem(app);
  // A cdk-nag finding throws here, naming the rule and the resource.
  return { system, assembly: app.synth() };
}

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

describe('the CDK app (infra/)', () => {
  const { system, assembly } = synth({ 'tq:tag:email-worker': '1.4.0' });

  it('is a core stack and one stack per worker app, each depending on the core only', () => {
    expect(assembly.stacks.map((stack) => stack.stackName).sort()).toEqual(
      ['TqCore', ...WORKER_APPS.map((worker) => stackName(worker.name))].sort(),
    );
    for (const stack of system.workers) {
      expect(stack.dependencies.map((dependency) => dependency.stackName)).toEqual(['TqCore']);
    }
  });

  it('runs each app from its own image tag: one app moves to a new tag alone', () => {
    const imageOf = (stack: string) => {
      const template = assembly.getStackByName(stack).template as Template;
      const definition = Object.values(template.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
      const containers = (definition?.Properties.ContainerDefinitions ?? []) as { Image: unknown }[];
      return JSON.stringify(containers[0]?.Image);
    };
    expect(imageOf('TqEmailWorker')).toMatch(/:1\.4\.0"/);
    for (const other of ['TqImageWorker', 'TqCleanupWorker', 'TqReportWorker'])
      expect(imageOf(other)).toMatch(/:latest"/);
  });

  it("builds each app's image from its Dockerfile with tq:images=asset (cdk deploy builds and pushes it)", async () => {
    const deploy = await mkdtemp(join(tmpdir(), 'tq-deploy-'));
    for (const worker of WORKER_APPS) {
      await mkdir(join(deploy, worker.name));
      await copyFile(join(infra, '..', 'scripts', 'app.Dockerfile'), join(deploy, worker.name, 'Dockerfile'));
    }
    try {
      const { assembly: built } = synth({ 'tq:images': 'asset', 'tq:deployDir': deploy });
      // Each worker stack's asset manifest: one Docker image, built from that app's folder's Dockerfile.
      for (const worker of WORKER_APPS) {
        const manifest = JSON.parse(
          await readFile(join(built.directory, `${stackName(worker.name)}.assets.json`), 'utf8'),
        ) as { dockerImages: Record<string, { source: { directory: string } }> };
        const images = Object.values(manifest.dockerImages);
        expect(images).toHaveLength(1);
        const staged = join(built.directory, images[0]?.source.directory as string, 'Dockerfile');
        expect(await readFile(staged, 'utf8')).toBe(
          await readFile(join(infra, '..', 'scripts', 'app.Dockerfile'), 'utf8'),
        );
      }
      const email = built.getStackByName('TqEmailWorker').template as Template;
      const definition = Object.values(email.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
      expect(JSON.stringify(definition?.Properties.ContainerDefinitions)).toMatch(/container-assets/);
      expect(() => synth({ 'tq:images': 'asset', 'tq:deployDir': join(deploy, 'nowhere') })).toThrow(
        /tq:images=asset needs .*email-worker\/Dockerfile \(`pnpm --filter @tq\/email-worker run deploy` writes it/,
      );
    } finally {
      await rm(deploy, { recursive: true, force: true });
    }
  });

  it('adds the ActiveMQ bridge with tq:activemqUrl: its copy queues in the core and a stack of its own', () => {
    const { assembly: withBridge } = synth({ 'tq:activemqUrl': 'stomp+ssl://b-1.mq.eu-west-1.amazonaws.com:61614' });
    expect(withBridge.stacks.map((stack) => stack.stackName)).toContain('TqActivemqBridge');
    const core = withBridge.getStackByName('TqCore').template as Template;
    const queues = Object.values(core.Resources)
      .filter((resource) => resource.Type === 'AWS::SQS::Queue')
      .map((resource) => resource.Properties.QueueName);
    expect(queues).toContain('tq-send_email-activemq');
    expect(queues).toContain('tq-send_email-activemq-dlq');
    const bridge = withBridge.getStackByName('TqActivemqBridge').template as Template;
    expect(JSON.stringify(bridge)).toContain('stomp+ssl://b-1.mq.eu-west-1.amazonaws.com:61614');
    // Without it, neither.
    expect(assembly.stacks.map((stack) => stack.stackName)).not.toContain('TqActivemqBridge');
  });

  it('adds the schedules of tq:schedules (the tq.schedules.json of tq up) to the core; a bad one fails the synth', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tq-infra-'));
    const report = {
      title: 'Nightly sales',
      columns: [{ key: 'region', label: 'Region' }],
      rows: [{ region: 'north' }],
      destination: 's3://tq-artifacts/reports/nightly.pdf',
    };
    const file = join(dir, 'tq.schedules.json');
    await writeFile(
      file,
      JSON.stringify([{ name: 'nightly', task: 'generate_report', payload: report, cron: '0 2 * * *' }]),
    );
    const core = synth({ 'tq:schedules': file }).assembly.getStackByName('TqCore').template as Template;
    const schedules = Object.values(core.Resources).filter((resource) => resource.Type === 'AWS::Scheduler::Schedule');
    expect(schedules.map((schedule) => schedule.Properties.ScheduleExpression)).toEqual(['cron(0 2 * * ? *)']);
    await writeFile(
      file,
      JSON.stringify([{ name: 'nightly', task: 'generate_report', payload: { title: 'x' }, cron: '0 2 * * *' }]),
    );
    expect(() => synth({ 'tq:schedules': file })).toThrow(/invalid schedule "nightly"/);
    await rm(dir, { recursive: true });
  });

  it('matches the committed templates (review changes to them)', async () => {
    const { assembly: plain } = synth();
    for (const stack of plain.stacks) {
      await expect(`${JSON.stringify(stack.template, null, 2)}\n`).toMatchFileSnapshot(
        `./__snapshots__/${stack.stackName}.template.json`,
      );
    }
  });

  it('synthesizes offline with the real cdk CLI', async () => {
    const out = join(tmpdir(), `tq-cdk-out-${process.pid}-${Date.now()}`);
    const templates = await cdkSynthOffline(join(infra, 'node_modules', '.bin', 'cdk'), infra, out);
    expect(templates).toEqual(
      ['TqCore', ...WORKER_APPS.map((worker) => stackName(worker.name))].map((name) => `${name}.template.json`).sort(),
    );
  }, 300_000);
});
