import type { TaskNames } from './names.js';

/** A file a scaffold writes: its path in the project and its text. */
export interface ScaffoldFile {
  path: string;
  content: string;
}

/** The AWS SDK release the @tq packages are built and tested with (the scaffold's test sends with it). */
const AWS_SDK_VERSION = '3.1169.0';

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
      test: 'vitest run',
      typecheck: 'tsc --noEmit',
    },
    dependencies: {
      '@tq/contracts': tq,
      '@tq/producer-sdk': tq,
      '@tq/worker': tq,
    },
    devDependencies: {
      '@aws-sdk/client-sqs': AWS_SDK_VERSION,
      '@tq/cli': tq,
      '@tq/testing': tq,
      '@types/node': '^20.19.0',
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
  ];
}

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
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTask } from '@tq/contracts';
import { createQueueWithDlq, startLocalEndpoint } from '@tq/testing';
import { createWorker } from '@tq/worker';
import { expect, it } from 'vitest';
import config from '../../tq.config.js';
import { handle${capital(identifier)} } from './handler.js';

it('${task}: a task sent to its queue succeeds with the echo of its message', async () => {
  await using endpoint = await startLocalEndpoint();
  const sqs = new SQSClient(endpoint.clientConfig);
  try {
    const { queue } = await createQueueWithDlq(sqs, { name: '${file}' });
    const worker = createWorker({
      task: '${task}',
      queueUrl: queue.url,
      sqs,
      registry: config.registry,
      handler: handle${capital(identifier)},
      handleSignals: false,
      waitTimeSeconds: 1,
    });
    const succeeded = new Promise((resolve) => worker.once('succeeded', resolve));
    await worker.start();
    const envelope = createTask('${task}', { message: 'hello' }, { registry: config.registry });
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(envelope) }));
    expect(await succeeded).toMatchObject({ id: envelope.id, result: { echo: 'hello' } });
    await worker.stop();
  } finally {
    sqs.destroy();
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
`;
}
