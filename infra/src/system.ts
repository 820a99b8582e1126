import { fileURLToPath } from 'node:url';
import { buildSystem } from '@tq/cdk';
import type { App, StackProps } from 'aws-cdk-lib';
import config from '../../tq.config.js';

/** The repository's folder: its tq.config.ts is the project this app deploys. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The repository's system: `@tq/cdk`'s `buildSystem` on its tq.config.ts (the core and one stack
 * per worker app), each app running from its own ECR repository at its tag unless
 * `-c tq:images=asset` builds it from `deploy/<app>` (what `pnpm --filter <app> run deploy` writes).
 */
export function buildRepositorySystem(app: App, stackProps: StackProps = {}) {
  return buildSystem(app, config, { root: REPOSITORY_ROOT, images: 'ecr', stackProps });
}
