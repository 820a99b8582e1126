import type { BrokerConnection } from '@tq/activemq';
import { Counter, Gauge, type Registry } from 'prom-client';

/** The bridge's own metrics, beside the workers' `tq_*` ones in the same registry. */
export interface BridgeMetrics {
  /** `tq_activemq_forwarded_total{task,destination}`: tasks the broker confirmed. */
  forwarded: Counter<'task' | 'destination'>;
  /** `tq_activemq_send_failures_total{code}`: sends that failed (each is sent again or retried). */
  sendFailures: Counter<'code'>;
  /** `tq_activemq_ingested_total{task}`: tasks from ActiveMQ published into tq. */
  ingested: Counter<'task'>;
  /** `tq_activemq_rejected_total{code}`: invalid tasks from ActiveMQ moved to its dead-letter queue. */
  rejected: Counter<'code'>;
  /** `tq_activemq_publish_failures_total`: publishes into tq that failed (retried with backoff). */
  publishFailures: Counter;
}

/**
 * Registers the bridge's metrics in `registry`, with the broker connection's state read at each
 * scrape: `tq_activemq_connected` (1 or 0) and `tq_activemq_reconnects_total`.
 */
export function createBridgeMetrics(registry: Registry, broker: BrokerConnection): BridgeMetrics {
  const registers = [registry];
  new Gauge({
    name: 'tq_activemq_connected',
    help: 'Whether the bridge is connected to the broker (1) or not (0)',
    registers,
    collect() {
      this.set(broker.connected ? 1 : 0);
    },
  });
  new Counter({
    name: 'tq_activemq_reconnects_total',
    help: 'Connections to the broker made again after it dropped',
    registers,
    collect() {
      this.reset();
      this.inc(broker.reconnects);
    },
  });
  return {
    forwarded: new Counter({
      name: 'tq_activemq_forwarded_total',
      help: 'Tasks forwarded to ActiveMQ and confirmed by the broker',
      labelNames: ['task', 'destination'],
      registers,
    }),
    sendFailures: new Counter({
      name: 'tq_activemq_send_failures_total',
      help: 'Sends to ActiveMQ that failed, by BrokerError code (each is sent again or retried)',
      labelNames: ['code'],
      registers,
    }),
    ingested: new Counter({
      name: 'tq_activemq_ingested_total',
      help: 'Tasks taken from ActiveMQ and published into tq',
      labelNames: ['task'],
      registers,
    }),
    rejected: new Counter({
      name: 'tq_activemq_rejected_total',
      help: "Invalid tasks from ActiveMQ moved to the bridge's ActiveMQ dead-letter queue, by error code",
      labelNames: ['code'],
      registers,
    }),
    publishFailures: new Counter({
      name: 'tq_activemq_publish_failures_total',
      help: 'Publishes of tasks from ActiveMQ into tq that failed (retried with backoff)',
      registers,
    }),
  };
}
