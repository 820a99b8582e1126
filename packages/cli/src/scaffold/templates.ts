import { type ContractsLock, renderContractsLock, Type } from '@tq/contracts';
import type { TaskNames } from './names.js';

/** A file a scaffold writes: its path in the project and its text. */
export interface ScaffoldFile {
  path: string;
  content: string;
}

/** The AWS SDK release the @tq packages are built and tested with (the scaffold's test sends with it). */
const AWS_SDK_VERSION = '3.1169.0';
/** The CDK releases @tq/cdk is built and tested with: the library, its constructs, and the CLI that deploys. */
const CDK = { lib: '^2.276.0', constructs: '^10.8.1', cli: '2.1148.1' } as const;
/** tsx, which runs the workers' TypeScript in their image as `tq up` does locally. */
const TSX_VERSION = '^4.20.6';

/** The project's own files (`tq init`): package.json, config, TypeScript settings, README, .gitignore. */
export function projectFiles(options: { name: string; first: TaskNames; version: string }): ScaffoldFile[] {
  const { name, first, version } = options;
  const tq = `^${version}`;
  const packageJson = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20.9' },
    scripts: {
      up: 'tq up',
      test: 'tq contracts check && vitest run',
      typecheck: 'tsc --noEmit',
      synth: 'tq synth',
      deploy: 'cdk deploy --all',
      release: 'tq contracts check && cdk deploy --all && tq contracts lock',
    },
    dependencies: {
      '@tq/contracts': tq,
      '@tq/producer-sdk': tq,
      '@tq/worker': tq,
      tsx: TSX_VERSION,
    },
    devDependencies: {
      '@aws-sdk/client-sqs': AWS_SDK_VERSION,
      '@tq/cdk': tq,
      '@tq/cli': tq,
      '@tq/testing': tq,
      '@types/node': '^20.19.0',
      'aws-cdk': CDK.cli,
      'aws-cdk-lib': CDK.lib,
      constructs: CDK.constructs,
      typescript: '^5.9.0',
      vitest: '^4.1.0',
    },
  };
  return [
    { path: 'package.json', content: `${JSON.stringify(packageJson, null, 2)}\n` },
    { path: 'tq.config.ts', content: configFile(first) },
    {
      path: 'tsconfig.json',
      content: `${JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
          },
          include: ['tq.config.ts', 'tasks', 'workers'],
        },
        null,
        2,
      )}\n`,
    },
    { path: '.gitignore', content: 'node_modules/\n.tq/\ncdk.out/\n' },
    { path: 'README.md', content: readme(name, first) },
    { path: 'Dockerfile', content: DOCKERFILE },
    { path: '.dockerignore', content: 'node_modules\n.tq\ncdk.out\n.git\n**/*.test.ts\n' },
    {
      path: 'cdk.json',
      content: `${JSON.stringify({ app: 'npx tq synth', context: { 'tq:prefix': name.replace(/^@[^/]+\//, '') } }, null, 2)}\n`,
    },
  ];
}

/**
 * The image of every worker app (\`npm run deploy\` builds one per app): the build arguments
 * \`TQ_APP\` and \`TQ_MAIN\`, from the config, say which app it runs.
 */
const DOCKERFILE = `# One image per worker app: \`npm run deploy\` (cdk deploy) builds it with TQ_APP and TQ_MAIN
# from tq.config.ts, and runs the app's TypeScript with tsx, as \`npm run up\` does locally.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \\
    TQ_HTTP_HOST=0.0.0.0 \\
    TQ_HTTP_PORT=8080
WORKDIR /app
COPY package.json package-lock.json* ./
RUN if [ -f package-lock.json ]; then npm ci --omit=dev; else npm install --omit=dev; fi && npm cache clean --force
COPY --chown=node:node . .
ARG TQ_APP
ARG TQ_MAIN
ENV TQ_APP=\${TQ_APP} \\
    TQ_MAIN=\${TQ_MAIN}
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s \\
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# exec: Node becomes PID 1, so SIGTERM reaches the worker's graceful shutdown.
CMD ["sh", "-c", "exec node --import tsx \\"$TQ_MAIN\\""]
`;

/** The config of a new project: its first task and that task's worker app. */
function configFile(first: TaskNames): string {
  return `// The project's task types and worker apps: every tq tool reads this file.
import { defineConfig, type InferTaskVersions } from '@tq/contracts';
import { ${first.identifier} } from './tasks/${first.file}.js';

const config = defineConfig({
  tasks: [${first.identifier}],
  workers: {
    '${first.app}': { task: '${first.task}', main: 'workers/${first.file}/main.ts' },
  },
});
export default config;

// The tasks' payload types, merged into tq's: producer.send, createWorker and handlers type them.
declare module '@tq/contracts' {
  interface TaskVersions extends InferTaskVersions<typeof config.tasks> {}
}
`;
}

/** The first task's payload schema as the task file above writes it (tq init locks it). */
const FIRST_SCHEMA = Type.Object({ message: Type.String({ maxLength: 10_000 }) }, { additionalProperties: false });

/** `tq.contracts.json` of a new project: its first task's version 1, as `tq contracts lock` writes it. */
export function initialLock(names: TaskNames): ScaffoldFile {
  const lock: ContractsLock = { [names.task]: { '1': JSON.parse(JSON.stringify(FIRST_SCHEMA)) } };
  return { path: 'tq.contracts.json', content: renderContractsLock(lock) };
}

/** A task's own files (`tq init`, `tq add task`): its definition, and its worker's folder with a test. */
export function taskFiles(names: TaskNames): ScaffoldFile[] {
  const { task, identifier, file, app } = names;
  return [
    {
      path: `tasks/${file}.ts`,
      content: `import { defineTask, Type } from '@tq/contracts';

/** \`${task}\`: its payload schema, queue settings and how its worker runs, in one place. */
export const ${identifier} = defineTask({
  name: '${task}',
  description: 'Echoes a message back as its result.',
  versions: {
    1: { schema: Type.Object({ message: Type.String({ maxLength: 10_000 }) }, { additionalProperties: false }) },
  },
  queue: { visibilityTimeoutSeconds: 30, maxReceiveCount: 5 },
  worker: { concurrency: 10, handlerTimeoutMs: 30_000 },
  scaling: { secondsPerMessage: 1, maxTasks: 4 },
});
`,
    },
    {
      path: `workers/${file}/handler.ts`,
      content: `import type { TaskPayload } from '@tq/contracts';

/** What a \`${task}\` task does: its result is what \`tq status <id>\` shows. */
export async function handle${capital(identifier)}(payload: TaskPayload<'${task}'>) {
  return { echo: payload.message };
}
`,
    },
    {
      path: `workers/${file}/main.ts`,
      content: `// The ${app} program: \`tq up\` runs it (no build step); on AWS it is the app's container command.
import { createWorker, runWorkerApp } from '@tq/worker';
import { ${identifier} } from '../../tasks/${file}.js';
import config from '../../tq.config.js';
import { handle${capital(identifier)} } from './handler.js';

await runWorkerApp({
  name: '${app}',
  task: ${identifier},
  create: ({ worker }) =>
    createWorker({ ...worker, task: '${task}', registry: config.registry, handler: handle${capital(identifier)} }),
});
`,
    },
    {
      path: `workers/${file}/handler.test.ts`,
      content: `// The worker against a real local SQS endpoint (@tq/testing): a task sent as any client would, its result read back.
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask } from '@tq/contracts';
import { createQueueWithDlq } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createWorker } from '@tq/worker';
import { expect, it } from 'vitest';
import config from '../../tq.config.js';
import { handle${capital(identifier)} } from './handler.js';

// Started before the first test, stopped after the last; local.sqs, local.s3 and local.sns use it.
const local = useLocalEndpoint();

it('${task}: a task sent to its queue succeeds with the echo of its message', async () => {
  const { queue } = await createQueueWithDlq(local.sqs, { name: '${file}' });
  const worker = createWorker({
    task: '${task}',
    queueUrl: queue.url,
    sqs: local.sqs,
    registry: config.registry,
    handler: handle${capital(identifier)},
    handleSignals: false,
    waitTimeSeconds: 1,
  });
  const succeeded = new Promise((resolve) => worker.once('succeeded', resolve));
  await worker.start();
  try {
    const envelope = createTask('${task}', { message: 'hello' }, { registry: config.registry });
    await local.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(envelope) }));
    expect(await succeeded).toMatchObject({ id: envelope.id, result: { echo: 'hello' } });
  } finally {
    await worker.stop();
  }
});
`,
    },
  ];
}

function capital(identifier: string): string {
  return `${identifier.charAt(0).toUpperCase()}${identifier.slice(1)}`;
}

function readme(name: string, first: TaskNames): string {
  return `# ${name}

Background tasks on Amazon SQS and SNS with [tq](https://www.npmjs.com/package/@tq/cli).

Run it (the local SQS/SNS/S3 endpoint, the queues, and every worker app, until Ctrl-C):

\`\`\`sh
npm install && npm run up
\`\`\`

Test it:

\`\`\`sh
npm test
\`\`\`

In a second shell, send a task and read its status:

\`\`\`sh
export TQ_ENDPOINT=http://127.0.0.1:4566
ID=$(npx tq send ${first.task} '{"message":"hello"}')
npx tq status $ID --wait
\`\`\`

- \`tq.config.ts\` names the task types and their worker apps; every \`tq\` command reads it.
- \`tasks/<task>.ts\`: a task's payload schema, queue settings and worker defaults.
- \`workers/<task>/\`: its handler, its program (\`main.ts\`) and its test.
- \`npx tq add task <name>\` adds a task type with its worker and test.
- \`tq.contracts.json\` holds each task version's payload schema as released. \`npm test\` runs
  \`tq contracts check\`, which fails when a change would break messages already sent (a tighter
  limit, a new required field, a removed property…): put such a change in a new version
  (\`versions: { 1: …, 2: … }\`). Additive changes pass; deploy the workers before the producers.
  \`npm run release\` deploys and locks the contracts again.

## On AWS

\`npm run synth\` builds the AWS app into \`cdk.out/\` offline: a core stack (the topic, each task's
queue and dead-letter queue, the bucket, the status table, a cluster) and one stack per worker app,
each sized and scaled from its task's definition. With AWS credentials and Docker,
\`npm run deploy\` builds each app's image from the \`Dockerfile\` and deploys every stack
(\`npx cdk bootstrap\` once per account and region first). Settings are CDK context in
\`cdk.json\` or \`-c key=value\`: \`tq:prefix\` names every resource; \`tq:images=ecr\` runs images
you push yourself (\`tq:tag\`, \`tq:tag:<app>\`) instead of building them.
`;
}
