import { FINAL_STATES, flowViewJson, type TaskStatus } from '@tq/status';
import type { Command } from 'commander';
import { createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { checkTask } from '../queues.js';
import { readFlow, renderFlow } from './flow.js';

const time = (iso: string) => iso.slice(11, 23);

/** A status as lines: the summary, the timeline, the result and the artifacts. */
export function renderStatus(status: TaskStatus): string {
  const attempts = `${status.attempts} attempt${status.attempts === 1 ? '' : 's'}`;
  const took = status.durationMs !== undefined ? `, ${status.durationMs} ms` : '';
  const lines = [`${status.task} ${status.id}: ${status.state} (${attempts}${took})`];
  for (const step of status.events) {
    const details = [
      step.attempt > 0 ? `attempt ${step.attempt}` : '',
      step.durationMs !== undefined ? `${step.durationMs} ms` : '',
      step.delaySeconds !== undefined ? `again in ${step.delaySeconds} s` : '',
      step.code ?? '',
      step.message ? `"${step.message.split('\n')[0]}"` : '',
      step.duplicate ? '(duplicate delivery, not run again)' : '',
    ].filter(Boolean);
    lines.push(`  ${step.at.slice(0, 10)} ${time(step.at)}  ${step.state.padEnd(13)} ${details.join('  ')}`.trimEnd());
  }
  if (status.cancelRequested && status.state !== 'cancelled') {
    const { at, reason } = status.cancelRequested;
    lines.push(`cancel requested at ${at}${reason ? `: ${reason}` : ''}`);
  }
  if (status.progress) {
    const { fraction, note, at } = status.progress;
    lines.push(`progress: ${Math.round(fraction * 100)}%${note ? ` ${note}` : ''} (at ${time(at)})`);
  }
  if (status.error && status.state !== 'succeeded') {
    lines.push(`error: ${status.error.code ? `${status.error.code}: ` : ''}${status.error.message}`);
  }
  if (status.result !== undefined) lines.push(`result: ${JSON.stringify(status.result)}`);
  else if (status.resultTruncated) lines.push('result: (too large to keep; see the artifacts)');
  for (const uri of status.artifacts ?? []) lines.push(`artifact: ${uri}   (tq get ${uri})`);
  return lines.join('\n');
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} is "${value}", must be a positive number`);
  return n;
}

/** `tq status <id>` and `tq results [task]`: what the status table knows. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("a task's status by id: its timeline, result, artifacts or error")
    .argument('<id>', 'the task id (what `tq send` printed)')
    .option('--wait', 'wait until the task succeeded or was dead-lettered (exit 0 or 1)')
    .option('--timeout <seconds>', 'how long --wait waits', '120')
    .option('--json', 'print the status as JSON')
    .action(async (id: string, options: { wait?: boolean; timeout: string; json?: boolean }) => {
      const timeoutMs = positive('--timeout', options.timeout) * 1000;
      const context = await createContext();
      try {
        const reader = context.status().reader;
        const deadline = Date.now() + timeoutMs;
        let status = await reader.get(id);
        // An id with no task steps may be a flow's: its tree, waited on until the flow ends.
        let flow = status ? undefined : await readFlow(context, id);
        const done = () => (flow ? flow.flow.state !== 'running' : status && FINAL_STATES.includes(status.state));
        while (options.wait && !done() && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 300));
          if (flow) flow = await readFlow(context, id);
          else status = await reader.get(id);
        }
        if (flow) {
          console.log(options.json ? JSON.stringify(flowViewJson(flow), null, 2) : renderFlow(flow));
          if (options.wait && flow.flow.state !== 'succeeded') throw new Error(`flow ${id} is ${flow.flow.state}`);
          return;
        }
        if (!status) {
          throw new Error(
            `no status for ${id}: never recorded here (status is written by workers with TQ_STATUS=on), or older than its 14-day TTL`,
          );
        }
        console.log(options.json ? JSON.stringify(status, null, 2) : renderStatus(status));
        if (options.wait && status.state !== 'succeeded') {
          throw new Error(
            FINAL_STATES.includes(status.state)
              ? `${id} was ${status.state}`
              : `${id} is still ${status.state} after ${options.timeout} s`,
          );
        }
      } finally {
        context.close();
      }
    });

  program
    .command('results')
    .description('the most recent successful tasks per task type, with their results and artifacts')
    .argument('[task]', "one task type (default: all of the project's)")
    .option('-n, --limit <count>', 'tasks per type', '5')
    .option('--json', 'print JSON: { task: TaskStatus[] }')
    .action(async (task: string | undefined, options: { limit: string; json?: boolean }) => {
      const limit = Math.floor(positive('--limit', options.limit));
      const context = await createContext();
      if (task !== undefined) checkTask(context.registry, task);
      const tasks = task ? [task] : context.registry.names();
      try {
        const reader = context.status().reader;
        const found: Record<string, TaskStatus[]> = {};
        for (const name of tasks) found[name] = await reader.recent(name, { limit, state: 'succeeded' });
        if (options.json) {
          console.log(JSON.stringify(found, null, 2));
          return;
        }
        for (const [name, statuses] of Object.entries(found)) {
          console.log(`${name}: ${statuses.length === 0 ? 'no successful task recorded' : ''}`.trimEnd());
          for (const status of statuses) {
            const when = (status.finishedAt ?? status.updatedAt).replace('T', ' ').slice(0, 19);
            const outputs = status.artifacts?.length
              ? status.artifacts.join(' ')
              : JSON.stringify(status.result ?? null);
            const shown = outputs.length > 300 ? `${outputs.slice(0, 299)}…` : outputs;
            console.log(`  ${when}  ${status.id}  ${String(status.durationMs ?? '?').padStart(6)} ms  ${shown}`);
          }
        }
      } finally {
        context.close();
      }
    });
}
