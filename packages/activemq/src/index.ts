/**
 * tq's STOMP link to Apache ActiveMQ (5.x, its STOMP connector), used by the ActiveMQ bridge and
 * `tq stats`.
 *
 * ```ts
 * import { createBrokerConnection } from '@tq/activemq';
 *
 * const broker = createBrokerConnection({ url: 'stomp://127.0.0.1:61613' });
 * broker.start();                       // reconnects by itself with backoff until close()
 * await broker.waitConnected();
 * await broker.send('/queue/tq.send_email', JSON.stringify(task), { tq_task: 'send_email' });
 * // resolved: the broker stored it (persistent, confirmed with a receipt)
 * await broker.close();
 * ```
 *
 * @module
 */
export {
  BrokerConnection,
  type BrokerConnectionEvents,
  type BrokerConnectionOptions,
  BrokerError,
  type BrokerErrorCode,
  type BrokerLogger,
  type BrokerMessage,
  type BrokerSubscription,
  createBrokerConnection,
  isBrokerError,
} from './connection.js';
export { parseDestination, readDestinations } from './destinations.js';
export {
  browseQueue,
  type DestinationStatistics,
  destinationStatistics,
  parseMapMessage,
  queueNameOf,
  queueStatistics,
} from './statistics.js';
export { type BrokerAddress, parseBrokerUrl } from './url.js';
