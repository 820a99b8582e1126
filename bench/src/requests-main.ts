// `pnpm --filter @tq/bench run requests [--tasks=N]`: the AWS requests per task of every path and a
// million tasks' list price, as the table bench/README.md shows.
import { chordOverhead, measurePath, REQUEST_PATHS, renderCosts } from './requests.js';

const option = process.argv.find((arg) => arg.startsWith('--tasks='));
const tasks = option === undefined ? 1000 : Number(option.slice('--tasks='.length));
if (!(Number.isInteger(tasks) && tasks >= 10)) {
  console.error('--tasks must be a whole number, at least 10');
  process.exit(2);
}
const costs = [];
for (const path of REQUEST_PATHS) {
  console.error(`${path.name}: ${tasks} tasks`);
  costs.push(await measurePath(path, tasks));
}
console.log(renderCosts(costs));

// A chord of 100 no-op children against 101 plain tasks, in time (medians of 5 alternating pairs).
const time = await chordOverhead(100, 5);
console.log(
  `\nchord of 100 children + then: ${Math.round(time.chordMs)} ms; 101 plain tasks: ${Math.round(time.plainMs)} ms; ` +
    `overhead per child ${time.overheadPerChildMs.toFixed(2)} ms (ratio ${(time.plainMs / time.chordMs).toFixed(2)})`,
);
