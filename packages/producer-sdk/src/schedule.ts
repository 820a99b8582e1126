import {
  ConflictException,
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  ResourceNotFoundException,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  AWS_LIMITS,
  atExpression,
  awsServiceSettings,
  ONE_TIME_PREFIX,
  SCHEDULE_INPUT_MAX_CHARS,
  scheduleTarget,
  serviceEndpoint,
  type TqEnvironment,
} from '@tq/contracts';
import type { ClaimChecks } from './claim-check.js';
import type { Destinations } from './destinations.js';
import { fromAwsError, PayloadTooLargeError, ProducerError } from './errors.js';
import type { Prepared } from './prepare.js';
import type { SendOptions } from './types.js';

/** `at` within SQS's reach becomes a delay; beyond it, the time to schedule for. */
export function resolveAt(sendOptions: SendOptions): { options: SendOptions; later?: Date } {
  if (sendOptions.at === undefined) return { options: sendOptions };
  const at = sendOptions.at instanceof Date ? sendOptions.at : new Date(sendOptions.at);
  if (Number.isNaN(at.getTime())) return { options: sendOptions }; // prepareTask reports it
  const { at: _at, ...rest } = sendOptions;
  const seconds = Math.max(0, Math.ceil((at.getTime() - Date.now()) / 1000));
  if (seconds <= AWS_LIMITS.sqs.maxDelaySeconds)
    return { options: seconds > 0 ? { ...rest, delaySeconds: seconds } : rest };
  return { options: rest, later: at };
}

/**
 * Sends for later than SQS can delay: a one-time EventBridge Scheduler schedule per task, in the
 * topology's group, that publishes the envelope to the topic and deletes itself after. The group
 * is made where it is missing; an envelope over the scheduler's input limit goes by claim check.
 */
export class LaterSends {
  readonly #environment: TqEnvironment;
  readonly #group: string;
  readonly #destinations: Destinations;
  readonly #claimChecks: ClaimChecks;
  readonly #owned: { destroy(): void }[];
  #scheduler: SchedulerClient | undefined;

  constructor(options: {
    environment: TqEnvironment;
    prefix: string;
    scheduler: SchedulerClient | undefined;
    destinations: Destinations;
    claimChecks: ClaimChecks;
    owned: { destroy(): void }[];
  }) {
    this.#environment = options.environment;
    this.#group = process.env.TQ_SCHEDULE_GROUP || options.prefix;
    this.#scheduler = options.scheduler;
    this.#destinations = options.destinations;
    this.#claimChecks = options.claimChecks;
    this.#owned = options.owned;
  }

  /** Creates the schedule that sends `prepared` at `at`; resolves with the schedule's ARN. */
  async schedule(prepared: Prepared, at: Date): Promise<string> {
    const roleArn =
      process.env.TQ_SCHEDULER_ROLE_ARN ||
      (serviceEndpoint('scheduler', this.#environment) ? 'arn:aws:iam::000000000000:role/tq-scheduler' : '');
    if (!roleArn) {
      throw new ProducerError(
        'INVALID_OPTIONS',
        'send(..., { at }) beyond 15 minutes needs TQ_SCHEDULER_ROLE_ARN: the role EventBridge Scheduler publishes with (TqTopology.environment() sets it)',
      );
    }
    const topicArn = await this.#destinations.topic();
    const targetOf = () =>
      scheduleTarget(
        { task: prepared.envelope.task, message: prepared.body, attributes: prepared.attributes as never },
        { topicArn, roleArn },
      );
    let target = targetOf();
    if (target.Input.length > SCHEDULE_INPUT_MAX_CHARS) {
      // EventBridge Scheduler takes 8,192 characters of input: a larger task goes by claim check.
      if (!this.#claimChecks.enabled)
        throw new PayloadTooLargeError(target.Input.length, SCHEDULE_INPUT_MAX_CHARS, 'topic');
      prepared.limit = 0;
      await this.#claimChecks.apply(prepared);
      target = targetOf();
    }
    const request = {
      Name: `${ONE_TIME_PREFIX}${prepared.envelope.id}`,
      GroupName: this.#group,
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' as const },
      ActionAfterCompletion: 'DELETE' as const,
      Description: `tq ${prepared.envelope.task} ${prepared.envelope.id}`,
      Target: target,
    };
    const client = this.#client();
    const create = () => client.send(new CreateScheduleCommand(request));
    const out = await create()
      .catch(async (error: unknown) => {
        if (!(error instanceof ResourceNotFoundException)) throw error;
        // The group is made by the deployment (or `tq up`); make it where it is missing.
        await client.send(new CreateScheduleGroupCommand({ Name: this.#group })).catch((created: unknown) => {
          if (!(created instanceof ConflictException)) throw created;
        });
        return await create();
      })
      .catch((error: unknown) => {
        throw fromAwsError(error, `schedule group ${this.#group}`);
      });
    return out.ScheduleArn as string;
  }

  #client(): SchedulerClient {
    if (!this.#scheduler) {
      this.#scheduler = new SchedulerClient(awsServiceSettings('scheduler', this.#environment));
      this.#owned.push(this.#scheduler);
    }
    return this.#scheduler;
  }
}
