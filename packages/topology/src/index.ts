/**
 * tq's AWS resources as desired state: the SNS topic, one queue and dead-letter queue per task,
 * filtered subscriptions, the artifacts bucket. `plan()` lists differences; `apply()` converges.
 *
 * ```ts
 * import { createProvisioner, defineTopology, describeChange } from '@tq/topology';
 *
 * const topology = defineTopology({ prefix: 'shop', queues: { send_email: { maxReceiveCount: 8 } } });
 * const provisioner = createProvisioner({ sqs, sns, s3, topology });
 * for (const change of await provisioner.apply()) console.log(describeChange(change));
 * ```
 *
 * @module
 */
export {
  type DesiredTopology,
  defineTopology,
  type ExtraSubscriber,
  type QueueSpec,
  type TaskCopies,
  type TaskQueueOptions,
  type TopologyOptions,
} from './desired.js';
export { isTopologyError, TopologyError, type TopologyErrorCode } from './errors.js';
export {
  type Change,
  createProvisioner,
  describeChange,
  type Provisioner,
  type ProvisionerOptions,
  type ReconcileOptions,
} from './provisioner.js';
export {
  listScheduleNames,
  type ScheduleChange,
  type ScheduleSyncOptions,
  scheduleRequest,
  syncSchedules,
} from './schedule-sync.js';
export {
  checkDeployable,
  defineSchedule,
  nextRuns,
  nextRunsOfExpression,
  ONE_TIME_PREFIX,
  SCHEDULED_TIME,
  type ScheduleDefinition,
  type ScheduleOptions,
  SNS_PUBLISH_TARGET,
  scheduleMessage,
  scheduleTarget,
} from './schedules.js';
