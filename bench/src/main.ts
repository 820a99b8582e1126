// `pnpm bench [scenario...] [--quick] [--only=contender,...] [--rounds=N] [--pin]`: runs each scenario's contenders alternately, one process
// each, against a local endpoint and SMTP sink in processes of their own; prints a markdown table
// and writes bench/results/<date>.json.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEndpointProcess } from '@tq/testing';
import {
  type BenchContext,
  type Measurement,
  median,
  type Pinning,
  pinProcess,
  processCpuSeconds,
  runInChild,
  selectContenders,
} from './lib.js';
import { loadScenarios } from './scenarios/index.js';
import { startSmtpProcess } from './smtp-process.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name: string) => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
// `--only=tq worker,raw receive/delete`: just these contenders (the reference always runs). A
// name with commas in it (`tq http-relay, prefetch 10`) is taken whole (`selectContenders`).
const only = option('only');
// `--rounds=5`: more rounds than the scenario's default, for a steadier median.
const roundsOption = option('rounds') === undefined ? undefined : Number(option('rounds'));
if (roundsOption !== undefined && !(Number.isInteger(roundsOption) && roundsOption > 0)) {
  console.error('--rounds must be a positive integer');
  process.exit(2);
}
// `--pin`: each contender on core 0, the servers on the other cores (see `Pinning`).
let pinning: Pinning | undefined;
if (args.includes('--pin')) {
  const cores = availableParallelism();
  if (cores < 2) {
    console.error('--pin needs at least 2 cores');
    process.exit(2);
  }
  pinning = { contender: '0', servers: cores === 2 ? '1' : `1-${cores - 1}` };
}
const wanted = args.filter((arg) => !arg.startsWith('--'));
const scenarios = await loadScenarios();
const unknown = wanted.filter((name) => !scenarios.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`);
  process.exit(2);
}
const selected = wanted.length > 0 ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;

interface Row {
  scenario: string;
  title: string;
  unit: string;
  contender: string;
  reference: string;
  referenceNote: string;
  runs: Measurement[];
  median: number;
  p50?: number;
  p99?: number;
  peakRssMb: number;
  /** Median CPU seconds of the contender's process per run. */
  cpuSeconds?: number;
  /** Median CPU seconds of the servers (endpoint, SMTP sink, the scenario's own) per run. */
  serverCpuSeconds?: number;
  ratio: number;
}

/**
 * The ratio to the reference as the median of each round's own ratio: a contender is compared
 * with the reference run in the same round, under the same machine conditions, so drift between
 * rounds (other load on a shared host) cancels out instead of landing on whoever ran then.
 */
function pairedRatio(runs: Measurement[], reference: Measurement[], lowerIsBetter: boolean): number {
  const ratios = runs.flatMap((run, round) => {
    const ref = reference[round]?.value;
    if (ref === undefined || ref === 0 || run.value === 0) return [];
    return [lowerIsBetter ? ref / run.value : run.value / ref];
  });
  return median(ratios);
}

const endpoint = await startEndpointProcess();
const smtp = await startSmtpProcess();
if (pinning) {
  pinProcess(endpoint.pid, pinning.servers);
  pinProcess(smtp.pid, pinning.servers);
}
const context: BenchContext = {
  endpoint: endpoint.endpoint,
  clientConfig: endpoint.clientConfig,
  smtpUrl: smtp.url,
  quick,
};
const rows: Row[] = [];
const started = Date.now();
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
// Quick, partial and other-than-default-rounds runs go to a file of their own (git-ignored) so they
// never replace a full run's rows.
const partial = quick || only !== undefined || roundsOption !== undefined || pinning !== undefined;
const resultsFile = join(resultsDir, `${new Date().toISOString().slice(0, 10)}${partial ? '.partial' : ''}.json`);

/** Merges this run's rows into today's file, scenario by scenario, so a crash loses only one. */
async function save(): Promise<void> {
  await mkdir(resultsDir, { recursive: true });
  const previous = await readFile(resultsFile, 'utf8')
    .then((text) => JSON.parse(text) as { rows: Row[] })
    .catch(() => ({ rows: [] as Row[] }));
  const ran = new Set(rows.map((row) => row.scenario));
  const merged = [...previous.rows.filter((row) => !ran.has(row.scenario)), ...rows];
  await writeFile(
    resultsFile,
    `${JSON.stringify({ machine, quick, ...(pinning ? { pinning } : {}), date: new Date().toISOString(), rows: merged }, null, 2)}\n`,
  );
}
try {
  for (const scenario of selected) {
    const rounds = roundsOption ?? scenario.rounds(context);
    const contenders =
      only === undefined ? scenario.contenders : selectContenders(only, scenario.contenders, scenario.reference);
    const runs = new Map<string, Measurement[]>(contenders.map((c) => [c, []]));
    console.error(`\n${scenario.name}: ${scenario.title} (${rounds} rounds, ${contenders.join(' / ')})`);
    /** One run of one contender on fresh resources, checked afterwards. */
    const runOnce = async (contender: string): Promise<Measurement> => {
      const config = await scenario.prepare(context, contender);
      const own = scenario.servers?.(config) ?? [];
      if (pinning) for (const pid of own) pinProcess(pid, pinning.servers);
      const servers = [endpoint.pid, smtp.pid, ...own];
      const serverCpu = () => {
        const seconds = servers.map(processCpuSeconds);
        return seconds.every((s) => s !== undefined) ? seconds.reduce((sum, s) => sum + (s as number), 0) : undefined;
      };
      const before = serverCpu();
      const measurement = await runInChild(scenario.name, contender, config, pinning);
      const after = serverCpu();
      if (before !== undefined && after !== undefined) {
        measurement.serverCpuSeconds = Math.round((after - before) * 100) / 100;
      }
      await scenario.verify?.(context, config);
      return measurement;
    };
    if (scenario.warmUp && !quick) {
      const measurement = await runOnce(scenario.reference);
      console.error(`  warm-up ${scenario.reference} ${measurement.value.toFixed(1)} ${scenario.unit} (not counted)`);
    }
    for (let round = 0; round < rounds; round += 1) {
      // Each round starts with the next contender, so none always runs first (or right after
      // the same neighbour) on an endpoint that carries the previous runs' garbage.
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length] as string);
      for (const contender of order) {
        const measurement = await runOnce(contender);
        runs.get(contender)?.push(measurement);
        console.error(
          `  round ${round + 1} ${contender.padEnd(16)} ${measurement.value.toFixed(1)} ${scenario.unit}${measurement.p99 !== undefined ? ` p50 ${measurement.p50?.toFixed(1)} p99 ${measurement.p99.toFixed(1)}` : ''}  rss ${measurement.peakRssMb} MB  cpu ${measurement.cpuSeconds} s${measurement.serverCpuSeconds === undefined ? '' : `  servers' cpu ${measurement.serverCpuSeconds} s`}`,
        );
      }
    }
    for (const [contender, measurements] of runs) {
      const value = median(measurements.map((m) => m.value));
      const p50s = measurements.flatMap((m) => (m.p50 === undefined ? [] : [m.p50]));
      const p99s = measurements.flatMap((m) => (m.p99 === undefined ? [] : [m.p99]));
      rows.push({
        scenario: scenario.name,
        title: scenario.title,
        unit: scenario.unit,
        contender,
        reference: scenario.reference,
        referenceNote: scenario.referenceNote,
        runs: measurements,
        median: value,
        ...(p50s.length ? { p50: median(p50s) } : {}),
        ...(p99s.length ? { p99: median(p99s) } : {}),
        peakRssMb: Math.max(...measurements.map((m) => m.peakRssMb ?? 0)),
        ...(measurements.every((m) => m.cpuSeconds !== undefined)
          ? { cpuSeconds: median(measurements.map((m) => m.cpuSeconds as number)) }
          : {}),
        ...(measurements.every((m) => m.serverCpuSeconds !== undefined)
          ? { serverCpuSeconds: median(measurements.map((m) => m.serverCpuSeconds as number)) }
          : {}),
        ratio: pairedRatio(measurements, runs.get(scenario.reference) ?? [], scenario.lowerIsBetter === true),
      });
    }
    await save();
  }
} finally {
  await smtp.stop();
  await endpoint.stop();
}

const format = (n: number | undefined) =>
  n === undefined ? '' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const lines = [
  `Machine: ${machine}. ${new Date().toISOString().slice(0, 10)}, ${Math.round((Date.now() - started) / 1000)} s${quick ? ', --quick' : ''}${pinning ? `, --pin (contenders on core ${pinning.contender}, servers on ${pinning.servers})` : ''}.`,
  '',
  "| scenario | contender | median | p50 | p99 | peak RSS MB | CPU s | servers' CPU s | ratio |",
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (row) =>
      `| ${row.scenario} | ${row.contender} | ${format(row.median)} ${row.unit} | ${format(row.p50)} | ${format(row.p99)} | ${Math.round(row.peakRssMb)} | ${format(row.cpuSeconds)} | ${format(row.serverCpuSeconds)} | ${row.contender === row.reference ? '1.00 (reference)' : `${row.ratio.toFixed(2)} × ${row.reference}`} |`,
  ),
];
console.log(lines.join('\n'));

console.error(`\nresults: ${resultsFile}`);
