// One contender of one scenario, in a process of its own: reads its config from stdin, runs,
// prints `RESULT <json>` with the measurement and its peak RSS, and exits.
import { peakRssMb } from './lib.js';
import { loadScenario } from './scenarios/index.js';

const [name, contender] = process.argv.slice(2);
// Only this scenario's module: the process holds what its contenders need and nothing else.
const scenario = name ? await loadScenario(name) : undefined;
if (!scenario || !contender) {
  console.error(`unknown scenario ${name}`);
  process.exit(2);
}
const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
const cpuBefore = process.cpuUsage();
const measurement = await scenario.run(contender, config as never);
const cpu = process.cpuUsage(cpuBefore);
// The contender process's own CPU for the whole run (the endpoint's is not in it): what the
// client costs, which the rate alone hides when the endpoint is the limit.
const cpuSeconds = Math.round((cpu.user + cpu.system) / 10_000) / 100;
process.stdout.write(`RESULT ${JSON.stringify({ ...measurement, peakRssMb: Math.round(peakRssMb()), cpuSeconds })}\n`);
process.exit(0);
