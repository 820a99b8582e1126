import type { Scenario } from '../lib.js';

/**
 * Each scenario's module, loaded on demand, in the order `pnpm bench` runs them: a contender's
 * process then holds what its scenario needs and nothing else (the report scenario's fonts, say,
 * stay out of the cleanup worker's peak RSS).
 */
const loaders: Record<string, () => Promise<unknown>> = {
  producer: async () => (await import('./producer.js')).producer,
  'consumer-noop': async () => (await import('./consumer.js')).consumerNoop,
  'consumer-50ms': async () => (await import('./consumer.js')).consumerSlow,
  'e2e-latency': async () => (await import('./e2e.js')).e2e,
  validation: async () => (await import('./validation.js')).validation,
  image: async () => (await import('./image.js')).image,
  cleanup: async () => (await import('./cleanup.js')).cleanup,
  email: async () => (await import('./email.js')).email,
  report: async () => (await import('./report.js')).report,
  relay: async () => (await import('./relay.js')).relay,
  'relay-50ms': async () => (await import('./relay.js')).relaySlow,
  activemq: async () => (await import('./activemq.js')).activemq,
};

/** Loads one scenario's module only; undefined for an unknown name. */
export async function loadScenario(name: string): Promise<Scenario<never> | undefined> {
  return (await loaders[name]?.()) as Scenario<never> | undefined;
}

/** Every scenario, in run order (the orchestrator's view). */
export async function loadScenarios(): Promise<Scenario<never>[]> {
  return Promise.all(Object.keys(loaders).map(async (name) => (await loadScenario(name)) as Scenario<never>));
}
