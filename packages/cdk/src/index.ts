/**
 * tq on AWS as infrastructure as code (AWS CDK v2).
 *
 * ```ts
 * import { App, Stack } from 'aws-cdk-lib';
 * import { TqTopology } from '@tq/cdk';
 *
 * const stack = new Stack(new App(), 'Tq');
 * const tq = new TqTopology(stack, 'Tq', { topology: { prefix: 'shop' } });
 * tq.grantSend(checkoutRole, ['send_email']);
 * ```
 *
 * @module
 */
export { TqActiveMqBridgeService, type TqActiveMqBridgeServiceProps } from './bridge-service.js';
export {
  BRIDGE_APP,
  buildSystem,
  readSchedules,
  stackName,
  systemSettings,
  TqBridgeStack,
  TqCoreStack,
  type TqImageSource,
  type TqSystemOptions,
  type TqSystemSettings,
  TqWorkerStack,
} from './system.js';
export { TqTopology, type TqTopologyProps } from './topology.js';
export { backlogTarget, type TqBacklogScaling, TqWorkerService, type TqWorkerServiceProps } from './worker-service.js';
