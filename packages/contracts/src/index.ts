/**
 * Typed, versioned task envelopes for tq.
 *
 * ```ts
 * import { createTask, parseTask } from '@tq/contracts';
 *
 * const task = createTask('send_email', { to: ['john@example.com'], subject: 'Hi', text: 'Hello' });
 * const parsed = parseTask(JSON.stringify(task));
 * if (!parsed.ok) console.error(parsed.error.violations); // [{ path, message }, ...]
 * ```
 *
 * @module
 */
/**
 * TypeBox, as the registry validates with it: define your own task schemas with this `Type` so
 * they are the same TypeBox instance (two installed copies do not accept each other's schemas).
 */

export { type Static, type TObject, Type } from '@sinclair/typebox';
export { AWS_LIMITS } from './aws-limits.js';
export {
  CLAIM_CHECK_PREFIX,
  ClaimCheck,
  ClaimCheckPointer,
  claimCheckKey,
  FAILURE_ATTRIBUTES,
  isClaimCheckPointer,
  looksLikeClaimCheck,
  MAX_CLAIM_CHECK_BYTES,
} from './claim-check.js';
export {
  EmailAddress,
  formatS3Uri,
  Mailbox,
  NamedAddress,
  parseS3Uri,
  S3Prefix,
  S3Uri,
} from './common.js';
export {
  defineConfig,
  isTqConfig,
  SECRET_NAME_PATTERN,
  type TqConfig,
  type TqConfigInput,
  WORKER_APP_NAME_PATTERN,
  type WorkerApp,
  type WorkerAppInput,
} from './config.js';
export { encodeMessageBody } from './encode.js';
export {
  Envelope,
  type EnvelopeMeta,
  envelopeSchemaFor,
  formatTraceparent,
  parseTraceparent,
  TRACEPARENT_PATTERN,
  type TraceparentParts,
} from './envelope.js';
export {
  type AwsClientSettings,
  type AwsService,
  awsClientSettings,
  awsServiceSettings,
  ConfigError,
  copyQueueName,
  dlqName,
  queueName,
  readEnvironment,
  SERVICE_ENDPOINT_VARIABLES,
  serviceEndpoint,
  type TqEnvironment,
  topicName,
} from './environment.js';
export {
  FlowValidationError,
  type FlowValidationErrorCode,
  isFlowValidationError,
  isTaskValidationError,
  TaskDefinitionError,
  TaskValidationError,
  type TaskValidationErrorCode,
  type Violation,
} from './errors.js';
export {
  type Narrowing,
  type NarrowingRule,
  narrowings,
  type Widening,
  type WideningRule,
  widenings,
} from './evolution/compare.js';
export {
  CONTRACTS_LOCK_FILE,
  type ContractFinding,
  type ContractRule,
  type ContractsCheck,
  type ContractsLock,
  ContractsLockError,
  checkContracts,
  contractsLock,
  describeContractsCheck,
  formatFinding,
  parseContractsLock,
  renderContractsLock,
} from './evolution/lock.js';
export {
  FLOW_FAILURE_POLICIES,
  FLOW_LIMITS,
  type FlowChain,
  type FlowFailurePolicy,
  type FlowGroup,
  type FlowNode,
  type FlowOutcome,
  type FlowPlan,
  type FlowRef,
  type FlowTask,
  flowOutput,
  flowParent,
  type PlannedGroup,
  type PlannedTask,
  planFlow,
  startsWith,
} from './flow.js';
export { EMAIL_PATTERN } from './formats.js';
export { JSON_SCHEMA_DIALECT, type JsonSchemaFile, jsonSchemas, renderJsonSchema } from './json-schema.js';
export {
  checkQueueSettings,
  DEFAULT_QUEUE_SETTINGS,
  QUEUE_SETTING_RANGES,
  type QueueSettings,
} from './queue-settings.js';
export {
  createRegistry,
  defineTask,
  type PayloadValidator,
  TASK_NAME_PATTERN,
  type TaskDefinition,
  type TaskDefinitionInput,
  type TaskRegistry,
  type TaskVersionDefinition,
} from './registry.js';
export {
  atExpression,
  ONE_TIME_PREFIX,
  SCHEDULE_INPUT_MAX_CHARS,
  SCHEDULED_TIME,
  SNS_PUBLISH_TARGET,
  scheduleTarget,
} from './schedule-target.js';
export {
  builtinHint,
  type CreateTaskOptions,
  createTask,
  type InferTaskVersions,
  type ParseTaskOptions,
  type ParseTaskResult,
  parseTask,
  registry,
  type TaskEnvelope,
  type TaskName,
  type TaskPayload,
  type TaskPayloads,
  type TaskVersions,
  toFlatMessage,
} from './task.js';
export {
  resolveTaskFacts,
  TASK_FACT_RANGES,
  type TaskFacts,
  type TaskFactsInput,
  type TaskScaling,
  type TaskWorkerDefaults,
} from './task-facts.js';
export {
  AggregateFunction,
  builtinTasks,
  CleanupDataV1,
  CleanupRules,
  ColumnRule,
  cleanupData,
  EmailAttachment,
  type ExampleSalesReportOptions,
  exampleSalesReport,
  GenerateReportV1,
  generateReport,
  ImageVariant,
  ProcessImageV1,
  processImage,
  ReportAggregate,
  ReportChart,
  ReportColumn,
  SendEmailV1,
  sendEmail,
} from './tasks/index.js';

/** SQS/SNS message attribute names that mirror the envelope so filters and routing never parse bodies. */
export const MESSAGE_ATTRIBUTES = { task: 'task', version: 'version' } as const;
