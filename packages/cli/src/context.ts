import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  awsClientSettings,
  readEnvironment,
  serviceEndpoint,
  type TaskRegistry,
  type TqEnvironment,
} from '@tq/contracts';
import { createStatusStore, type StatusStore } from '@tq/status';
import { createProvisioner, defineTopology, type Provisioner } from '@tq/topology';
import { loadProject, type Project } from './project.js';

/** What every command needs: the validated environment and clients built from it. */
export interface CliContext {
  env: TqEnvironment;
  sqs: SQSClient;
  sns: SNSClient;
  s3: S3Client;
  /** The project (`tq.config.ts`) whose tasks the command works on. */
  project: Project;
  /** The project's task types. */
  registry: TaskRegistry;
  provisioner(): Provisioner;
  /** The task status table's reader and writer (made on first use). */
  status(): StatusStore;
  close(): void;
}

/**
 * Loads the project (`--config`, `TQ_CONFIG`, or `tq.config.ts` from the working directory up)
 * and builds the context from it and the environment (or an explicit endpoint, as `tq up` uses).
 */
export async function createContext(overrides: Partial<TqEnvironment> = {}): Promise<CliContext> {
  return contextFor(await loadProject(), overrides);
}

/** The context of a project already loaded. */
export function contextFor(project: Project, overrides: Partial<TqEnvironment> = {}): CliContext {
  const registry = project.config.registry;
  const env = { ...readEnvironment(), ...overrides };
  // One attempt fewer than the SDK default keeps an unreachable endpoint's error quick for a CLI.
  const settings = { ...awsClientSettings(env), maxAttempts: 2 };
  const sqs = new SQSClient(settings);
  const sns = new SNSClient(settings);
  const s3 = new S3Client(settings);
  let status: StatusStore | undefined;
  return {
    env,
    sqs,
    sns,
    s3,
    project,
    registry,
    provisioner: () =>
      createProvisioner({
        sqs,
        sns,
        s3,
        topology: defineTopology({
          prefix: env.prefix,
          bucket: env.bucket,
          registry,
          queues: Object.fromEntries(env.fifoTasks.map((task) => [task, { fifo: true }])),
          // TQ_ACTIVEMQ_URL (or TQ_ACTIVEMQ=1): the ActiveMQ bridge's copy of each task it forwards.
          ...(env.activemq
            ? {
                copies: [
                  {
                    consumer: 'activemq',
                    ...(env.activemq.tasks === 'all' ? {} : { tasks: env.activemq.tasks }),
                  },
                ],
              }
            : {}),
        }),
      }),
    status() {
      const endpoint = serviceEndpoint('dynamodb', env);
      status ??= createStatusStore({
        prefix: env.prefix,
        ...(endpoint ? { endpoint } : {}),
      });
      return status;
    },
    close() {
      status?.dynamodb.destroy();
      sqs.destroy();
      sns.destroy();
      s3.destroy();
    },
  };
}
