// A task by id: its state, timeline, result and artifacts from the status table.
import { useEffect, useState } from 'preact/hooks';
import { api, html } from './lib.js';

export function TaskView({ id }) {
  const [input, setInput] = useState(id ?? '');
  const [found, setFound] = useState(null);
  useEffect(() => {
    setInput(id ?? '');
    if (!id) return setFound(null);
    api(`/api/tasks/${encodeURIComponent(id)}`).then(setFound, (error) => setFound({ error: error.message }));
  }, [id]);
  const status = found?.status;
  return html`
    <h2>Task by id</h2>
    <form class="toolbar" onSubmit=${(e) => {
      e.preventDefault();
      location.hash = `#/task/${encodeURIComponent(input.trim())}`;
    }}>
      <label for="task-id">Task id</label>
      <input id="task-id" size="40" value=${input} onInput=${(e) => setInput(e.target.value)} />
      <button type="submit" class="primary">Show</button>
    </form>
    ${found?.error ? html`<p class="violations">${found.error}</p>` : ''}
    ${found && !found.tracked ? html`<p>Not tracked: ${found.reason}</p>` : ''}
    ${found?.flow ? html`<${FlowTree} flow=${found.flow} />` : ''}
    ${found?.tracked && !status && !found.flow ? html`<p>No status recorded for ${id} (never sent here, or older than 14 days).</p>` : ''}
    ${
      status &&
      html`
        <p><strong>${status.task}</strong> <span class=${`badge ${status.state === 'succeeded' ? 'ok' : status.state === 'dead-lettered' ? 'bad' : ''}`}>${status.state}</span> after ${status.attempts} attempt(s)${status.durationMs !== undefined ? `, ${status.durationMs} ms` : ''}</p>
        ${status.progress ? html`<p><progress max="1" value=${status.progress.fraction} aria-label="progress"></progress> ${Math.round(status.progress.fraction * 100)}%${status.progress.note ? ` · ${status.progress.note}` : ''}</p>` : ''}
        <table aria-label="timeline">
          <thead><tr><th scope="col">time (UTC)</th><th scope="col">step</th><th scope="col" class="num">attempt</th><th scope="col">details</th></tr></thead>
          <tbody>${status.events.map((step) => html`<tr><td>${step.at.replace('T', ' ').slice(0, 23)}</td><td>${step.state}</td><td class="num">${step.attempt}</td><td>${[step.durationMs !== undefined ? `${step.durationMs} ms` : '', step.code ?? '', step.message ?? '', step.duplicate ? 'duplicate delivery' : ''].filter(Boolean).join(' · ')}</td></tr>`)}</tbody>
        </table>
        ${status.error ? html`<p class="violations">${status.error.code ?? ''} ${status.error.message}</p>` : ''}
        ${status.result !== undefined ? html`<h3>Result</h3><pre class="body">${JSON.stringify(status.result, null, 2)}</pre>` : ''}
        ${status.artifacts?.length ? html`<h3>Artifacts</h3><ul>${status.artifacts.map((uri) => html`<li><a href=${`/api/artifacts?uri=${encodeURIComponent(uri)}`} target="_blank" rel="noopener">${uri}</a> · <a href=${`/api/artifacts?uri=${encodeURIComponent(uri)}&download=1`}>download</a></li>`)}</ul>` : ''}
      `
    }
  `;
}

/** A node's state: sent (queued or running), waiting for what precedes it, succeeded, failed. */
function nodeState(task) {
  if (!task.outcome) return task.waiting ? 'waiting' : 'sent';
  return task.outcome.ok
    ? 'succeeded'
    : `failed (${task.outcome.code}${task.outcome.policy !== 'fail' ? `, ${task.outcome.policy}` : ''})`;
}

/** A flow as a tree: one row per task and group, indented by depth, each task linking to its status. */
function FlowTree({ flow }) {
  const rows = [
    ...flow.tasks.map((task) => ({ path: task.path, task })),
    ...Object.entries(flow.groups).map(([path, group]) => ({ path, group })),
  ].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  const depth = (path) => (path.match(/\.(chain|group)\[\d+\]|\.then/g) ?? []).length;
  const label = (path) => path.match(/(\.(chain|group)\[\d+\]|\.then|\$)$/)?.[0].replace(/^\./, '') ?? path;
  return html`
    <p><strong>Flow</strong> ${flow.id} <span class=${`badge ${flow.state === 'succeeded' ? 'ok' : flow.state === 'failed' ? 'bad' : ''}`}>${flow.state}</span> · ${flow.tasks.length} task(s)</p>
    ${flow.error ? html`<p class="violations">${flow.error.path}: ${flow.error.code} ${flow.error.message}</p>` : ''}
    <table aria-label="flow">
      <thead><tr><th scope="col">node</th><th scope="col">task</th><th scope="col">state</th><th scope="col">result</th></tr></thead>
      <tbody>${rows.map(
        ({ path, task, group }) => html`<tr data-path=${path}>
        <td style=${`padding-left: ${depth(path) * 1.2 + 0.4}em`} title=${path}>${label(path)}</td>
        <td>${task ? html`<a href=${`#/task/${encodeURIComponent(task.id)}`}>${task.task}</a>` : `group of ${group.total}`}</td>
        <td>${task ? nodeState(task) : `${group.total - group.open}/${group.total} ended${group.failed ? ', failed' : ''}${group.then ? (group.continued ? ', then started' : ', then waiting') : ''}`}</td>
        <td>${task?.outcome?.ok && task.outcome.result !== undefined ? html`<code>${JSON.stringify(task.outcome.result).slice(0, 120)}</code>` : ''}</td>
      </tr>`,
      )}</tbody>
    </table>
  `;
}
