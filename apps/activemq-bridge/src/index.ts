/**
 * The ActiveMQ bridge as a library: the same pieces `main.ts` runs, for tests and for programs
 * that embed the bridge.
 *
 * @module
 */
export { type Bridge, type BridgeOptions, createBridge } from './bridge.js';
export { type BridgeBody, type BridgeConfig, type BridgeMode, readBridgeConfig } from './config.js';
export {
  COPY_CONSUMER,
  createForwarder,
  type ForwarderOptions,
  type ForwardResult,
  forwardHeaders,
} from './forward.js';
export { createIngest, Ingest, type IngestOptions, idFromMessageId, taskOfMessage } from './ingest.js';
export { type BridgeMetrics, createBridgeMetrics } from './metrics.js';
