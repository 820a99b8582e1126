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
    ${found?.tracked && !status ? html`<p>No status recorded for ${id} (never sent here, or older than 14 days).</p>` : ''}
    ${
      status &&
      html`
        <p><strong>${status.task}</strong> <span class=${`badge ${status.state === 'succeeded' ? 'ok' : status.state === 'dead-lettered' ? 'bad' : ''}`}>${status.state}</span> after ${status.attempts} attempt(s)${status.durationMs !== undefined ? `, ${status.durationMs} ms` : ''}</p>
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
