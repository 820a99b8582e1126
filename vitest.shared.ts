import { defineProject } from 'vitest/config';

/**
 * The vitest settings every package shares: workspace packages resolve to their TypeScript
 * source (the `@tq/source` export condition), so tests never run against a stale build.
 */
export const sharedConfig = defineProject({
  resolve: { conditions: ['@tq/source'] },
  ssr: { resolve: { conditions: ['@tq/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // Tests wait on events, never on the clock: these limits only catch a test that hangs, and are
    // generous so a loaded CI machine (the suite runs beside a CPU hog in checks) passes too.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
