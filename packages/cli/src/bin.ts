#!/usr/bin/env node
// The AWS SDK warns on Node 20 that its releases after January 2027 need Node 22. tq pins its SDK
// versions, so the warning asks nothing of a tq user; it is silenced unless set explicitly.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { run } = await import('./program.js');

process.exitCode = await run(process.argv.slice(2));
