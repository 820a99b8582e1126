import type { Scenario } from '../lib.js';
import { cleanup, email, image, report } from './apps.js';
import { consumerNoop, consumerSlow } from './consumer.js';
import { e2e } from './e2e.js';
import { producer } from './producer.js';
import { validation } from './validation.js';

/** Every scenario, in the order `pnpm bench` runs them. */
export const scenarios = [
  producer,
  consumerNoop,
  consumerSlow,
  e2e,
  validation,
  image,
  cleanup,
  email,
  report,
] as unknown as Scenario<never>[];
