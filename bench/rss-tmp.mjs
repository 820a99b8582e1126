const which = process.argv[2];
if (which === 'all') await import('/work/main/bench/dist/scenarios/index.js');
else if (which === 'cleanup') { await import('@tq/cleanup-worker'); await import('@aws-sdk/client-s3'); await import('@aws-sdk/lib-storage'); }
else if (which === 'none') {}
const { readFileSync } = await import('node:fs');
globalThis.gc?.();
console.log(which, Math.round(process.memoryUsage().rss / 1e6), 'MB rss', readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+)/)[1] / 1000 | 0, 'MB hwm');
