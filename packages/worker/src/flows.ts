import type { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type AwsClientSettings, readEnvironment, type TaskRegistry } from '@tq/contracts';
import { Destinations, FlowEngine, sendHeld } from '@tq/producer-sdk';
import { createStatusStore, FlowStore, type StatusStore } from '@tq/status';

/** What `WorkerFlows` is made from. */
export interface WorkerFlowsOptions {
  sqs: SQSClient;
  /** The worker's `sns` option. */
  sns: SNSClient | undefined;
  /** Whether `sqs` was injected (its region, credentials and custom endpoint then make the SNS client). */
  sqsInjected: boolean;
  s3: S3Client;
  settings: AwsClientSettings;
  prefix: string;
  /** What children added at run time are checked against. */
  registry: TaskRegistry | undefined;
  /** The worker's `status` option: its store is the flow's table when it is one. */
  status: boolean | StatusStore | undefined;
}

/**
 * A worker's part in flows: the flow engine (`@tq/producer-sdk`), made when the first task of a
 * flow arrives, over the status table (the worker's `status` store when it has one, else one
 * from the environment) and the worker's SQS and S3 clients, with an SNS client of its own for
 * the tasks it sends to the topic. A worker that never sees a flow makes none of it.
 */
export class WorkerFlows {
  readonly #options: WorkerFlowsOptions;
  #engine: FlowEngine | undefined;
  readonly #owned: { destroy?(): void; close?(): Promise<void> }[] = [];

  constructor(options: WorkerFlowsOptions) {
    this.#options = options;
  }

  /** The flow engine, made on first use. */
  engine(): FlowEngine {
    if (this.#engine !== undefined) return this.#engine;
    const { sqs, s3, prefix, status } = this.#options;
    const env = readEnvironment();
    // The prefix's bucket (`TQ_BUCKET`, else `<prefix>-artifacts`) keeps results too large for the flow's records.
    const { bucket } = readEnvironment({ ...process.env, TQ_PREFIX: prefix });
    let store: StatusStore;
    if (typeof status === 'object') store = status;
    else {
      store = createStatusStore({ prefix });
      this.#owned.push(store);
    }
    const sns = this.#options.sns ?? this.#snsClient();
    const topicArn = prefix === env.prefix ? env.topicArn : undefined;
    const destinations = new Destinations({ sqs, sns, prefix, topicArn });
    this.#engine = new FlowEngine({
      store: new FlowStore({ dynamodb: store.dynamodb, tableName: store.tableName }),
      send: (tasks) => sendHeld(tasks, { sqs, sns, destinations, concurrency: 8, attempts: 4 }),
      s3,
      bucket,
      registry: this.#options.registry,
    });
    return this.#engine;
  }

  /**
   * The SNS client the flow's tasks go to the topic with: like the injected SQS client (its
   * region, credentials, and its custom endpoint: an emulator serves both), else from the
   * worker's settings.
   */
  #snsClient(): SNSClient {
    const { sqs, sqsInjected, settings } = this.#options;
    const config = sqs.config as unknown as {
      region: unknown;
      credentials: unknown;
      endpoint?: unknown;
      isCustomEndpoint?: boolean;
    };
    const sns = sqsInjected
      ? new SNSClient({
          region: config.region,
          credentials: config.credentials,
          ...(config.isCustomEndpoint ? { endpoint: config.endpoint } : {}),
        } as NonNullable<ConstructorParameters<typeof SNSClient>[0]>)
      : new SNSClient(settings);
    this.#owned.push(sns);
    return sns;
  }

  /** Releases what `engine()` made. */
  async close(): Promise<void> {
    for (const owned of this.#owned.splice(0)) {
      if (owned.close) await owned.close();
      else owned.destroy?.();
    }
  }
}
