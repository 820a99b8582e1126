// The tq console's page: preact + htm, no build step, one module per view. Routes live in the
// URL's fragment: #/ (overview), #/dlq/<task>, #/send/<task>, #/task/<id>.
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { DeadLetterView } from './dead-letters.js';
import { api, html, useRoute } from './lib.js';
import { Overview } from './overview.js';
import { SendView } from './send.js';
import { TaskView } from './task.js';

function App() {
  const route = useRoute();
  const [meta, setMeta] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api('/api/meta').then(setMeta, (e) => setError(e.message));
  }, []);
  const page = route[0] || 'overview';
  const link = (href, name, label) =>
    html`<a href=${href} aria-current=${page === name ? 'page' : undefined}>${label}</a>`;
  const body = useMemo(() => {
    if (!meta) return html`<p class="loading">${error || 'Loading…'}</p>`;
    if (page === 'dlq') return html`<${DeadLetterView} meta=${meta} task=${route[1] || meta.tasks[0].name} />`;
    if (page === 'send') return html`<${SendView} meta=${meta} task=${route[1] || meta.tasks[0].name} />`;
    if (page === 'task') return html`<${TaskView} id=${route[1]} />`;
    return html`<${Overview} meta=${meta} />`;
  }, [meta, error, page, route[1]]);
  return html`
    <header>
      <h1>tq console</h1>
      ${meta && html`<span class="where">${meta.prefix} on ${meta.where}</span>`}
      ${meta?.readOnly ? html`<span class="badge ro" title="set TQ_CONSOLE_TOKEN to allow write actions">read-only</span>` : ''}
      <nav aria-label="pages">
        ${link('#/', 'overview', 'Overview')}
        ${link(`#/dlq/${meta?.tasks[0]?.name ?? ''}`, 'dlq', 'Dead letters')}
        ${link(`#/send/${meta?.tasks[0]?.name ?? ''}`, 'send', 'Send a task')}
        ${link('#/task/', 'task', 'Task by id')}
      </nav>
    </header>
    <main>${body}</main>
  `;
}

// The loading line goes: render() adds to the container, it does not replace what is there.
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
