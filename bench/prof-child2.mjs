import { consumerNoop } from './dist/scenarios/consumer.js';
const [mode, cfg] = process.argv.slice(2);
const config = JSON.parse(cfg);
const c0 = process.cpuUsage();
const m = await consumerNoop.run(mode === 'tq' ? 'tq worker' : 'raw receive/delete', config);
const c = process.cpuUsage(c0);
console.log(`${mode}: ${m.value.toFixed(0)} msgs/s (bench run) cpu ${((c.user + c.system) / 1000 / config.count).toFixed(3)} ms/msg`);
process.exit(0);
