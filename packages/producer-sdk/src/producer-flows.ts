import { classifyAwsError } from '@tq/aws';
import {
  CancelStore,
  DEFAULT_TTL_SECONDS,
  event,
  FlowStore,
  StatusNotTrackedError,
  type StatusStore,
} from '@tq/status';
import { type FlowSendDeps, type FlowStartDeps, startFlow } from './flow-start.js';
import type { Producer } from './types.js';

/** What the producer's flow methods need of it. */
export interface ProducerFlowDeps extends FlowSendDeps, Pick<FlowStartDeps, 'registry' | 'prepare' | 'claimCheck'> {
  /** The producer's status store, made on first use. */
  status(): StatusStore;
  /** Whether tasks sent are recorded `sent` in the status table. */
  recordSent: boolean;
}

/** The producer's `flow`, `flowStatus` and `cancel`: flows and cancellations in the status table. */
export function producerFlows(deps: ProducerFlowDeps): Pick<Producer, 'flow' | 'flowStatus' | 'cancel'> {
  const { status } = deps;
  let store: FlowStore | undefined;
  const flows = () => {
    const { dynamodb, tableName } = status();
    store ??= new FlowStore({ dynamodb, tableName });
    return store;
  };
  return {
    flow: (spec, options = {}) =>
      startFlow(
        spec,
        {
          ...deps,
          store: flows,
          tableName: () => status().tableName,
          sent: (task, at) => {
            if (deps.recordSent) status().writer.record(task.id, task.task, event('sent', 0, undefined, at));
          },
        },
        options.id,
      ),
    async cancel(id, options = {}) {
      const { dynamodb, tableName } = status();
      try {
        const flow = await flows().get(id);
        const error = { path: '$', code: 'CANCELLED', message: options.reason ?? 'cancelled' };
        if (flow && !(await flows().finish(id, 'cancelled', error))) {
          // Ended before: nothing to stop.
          return { id, at: new Date().toISOString(), kind: 'flow' as const, ended: flow.state };
        }
        const cancels = new CancelStore({ dynamodb, tableName, ttlSeconds: DEFAULT_TTL_SECONDS });
        const request = await cancels.request(id, options.reason);
        return { ...request, kind: flow ? ('flow' as const) : ('task' as const) };
      } catch (error) {
        if (classifyAwsError(error) === 'not-found') throw new StatusNotTrackedError(tableName, { cause: error });
        throw error;
      }
    },
    async flowStatus(id) {
      const record = await flows().get(id);
      if (record === undefined) return undefined;
      const { policies: _policies, ...flow } = record;
      return flow;
    },
  };
}
