// The tq console's page: preact + htm, no build step. Routes live in the URL's fragment:
// #/ (overview), #/dlq/<task>, #/send/<task>, #/task/<id>.
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';

const html = htm.bind(h);

// The write token arrives once in the link's fragment (#token=...): kept for this tab only.
if (location.hash.startsWith('#token=')) {
  sessionStorage.setItem('tq-console-token', decodeURIComponent(location.hash.slice('#token='.length)));
  history.replaceState(null, '', `${location.pathname}#/`);
}
const token = () => sessionStorage.getItem('tq-console-token') ?? '';

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: {
      ...(options.body ? { 'content-type': 'application/json' } : {}),
      ...(token() ? { authorization: `Bearer ${token()}` } : {}),
    },
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok)
    throw Object.assign(new Error(data.error ?? response.statusText), { data, status: response.status });
  return data;
}

function useRoute() {
  const read = () => (location.hash.replace(/^#\/?/, '') || '').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const number = (value) => (value === undefined || value === null ? '—' : Number(value).toLocaleString('en-US'));
const age = (seconds) =>
  seconds === undefined || seconds === null
    ? '—'
    : seconds < 120
      ? `${Math.round(seconds)} s`
      : seconds < 7200
        ? `${Math.round(seconds / 60)} min`
        : `${Math.round(seconds / 3600)} h`;

/** A live sparkline of the last points (uPlot), updated in place. */
function Sparkline({ points, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const data = [points.map((p) => p.t), points.map((p) => p.a), points.map((p) => p.b)];
    if (!plot.current) {
      plot.current = new uPlot(
        {
          width: 160,
          height: 36,
          legend: { show: false },
          cursor: { show: false },
          axes: [{ show: false }, { show: false }],
          scales: { x: { time: false } },
          series: [
            {},
            { stroke: '#0b57d0', width: 1.5, points: { show: false } },
            { stroke: '#067647', width: 1.5, points: { show: false } },
          ],
        },
        data,
        box.current,
      );
    } else plot.current.setData(data);
  }, [points]);
  useEffect(() => () => plot.current?.destroy(), []);
  return html`<div class="spark" ref=${box} role="img" aria-label=${label}></div>`;
}

function Overview({ meta }) {
  const [state, setState] = useState(null);
  const [history, setHistory] = useState({});
  useEffect(() => {
    const source = new EventSource('/api/events');
    const take = (data) => {
      setState(data);
      setHistory((old) => {
        const next = { ...old };
        for (const row of data.queues) {
          const rate = data.rates?.[row.task];
          const point = rate
            ? { t: data.at / 1000, a: rate.received ?? 0, b: rate.done ?? 0 }
            : { t: data.at / 1000, a: row.queue?.visible ?? 0, b: row.queue?.inFlight ?? 0 };
          next[row.task] = [...(old[row.task] ?? []), point].slice(-60);
        }
        return next;
      });
    };
    source.onmessage = (event) => take(JSON.parse(event.data));
    api('/api/overview').then(take, () => undefined);
    return () => source.close();
  }, []);
  if (!state) return html`<p class="loading">Reading the queues…</p>`;
  return html`
    <h2>Queues</h2>
    <p class="muted">Live: updated every few seconds. Throughput (received/s in blue, done/s in green) comes from the workers' metrics when the console knows them (as under tq up), with their readiness; else the sparkline follows the queue itself (visible in blue, in flight in green).</p>
    <table aria-label="Task queues and their dead-letter queues">
      <thead>
        <tr>
          <th scope="col">task</th>
          <th scope="col" class="num">visible</th>
          <th scope="col" class="num">in flight</th>
          <th scope="col" class="num">delayed</th>
          <th scope="col" class="num">oldest</th>
          <th scope="col" class="num">dead letters</th>
          <th scope="col">activity</th>
        </tr>
      </thead>
      <tbody>
        ${state.queues.map(
          (row) => html`
            <tr data-task=${row.task}>
              <th scope="row">
                ${row.task}${row.error ? html` <span class="badge bad">${row.error}</span>` : ''}
                ${
                  state.workers?.[row.task] === undefined
                    ? ''
                    : html` <span class=${`badge ${state.workers[row.task] ? 'ok' : 'bad'}`} data-field="worker">${state.workers[row.task] ? 'worker ready' : 'worker not ready'}</span>`
                }
              </th>
              <td class="num" data-field="visible">${number(row.queue?.visible)}</td>
              <td class="num" data-field="inFlight">${number(row.queue?.inFlight)}</td>
              <td class="num" data-field="delayed">${number(row.queue?.delayed)}</td>
              <td class="num">${age(row.queue?.oldestSeconds)}</td>
              <td class="num" data-field="dlq">
                <a href=${`#/dlq/${row.task}`} class=${row.dlq?.visible ? 'badge bad' : ''}>${number(row.dlq?.visible)}</a>
              </td>
              <td>
                <${Sparkline}
                  points=${history[row.task] ?? []}
                  label=${state.rates?.[row.task] ? `${row.task}: ${state.rates[row.task].done?.toFixed(1)} done per second` : `${row.task}: backlog over time`}
                />
              </td>
            </tr>
          `,
        )}
      </tbody>
    </table>
    <p class="muted">${meta.tasks.length} task types, prefix ${meta.prefix}.</p>
  `;
}

/** The body as pretty JSON, with the lines that the violations point at marked. */
function Body({ text, violations }) {
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: shown as it is
  }
  const keys = new Set(violations.map((v) => v.path.split('/').filter(Boolean).pop()).filter(Boolean));
  return html`<pre class="body" tabindex="0" aria-label="message body">${pretty.split('\n').map((line) => {
    const key = /^\s*"([^"]+)":/.exec(line)?.[1];
    return html`${key && keys.has(key) ? html`<mark>${line}</mark>` : line}\n`;
  })}</pre>`;
}

function DeadLetterView({ meta, task }) {
  const [scan, setScan] = useState(null);
  const [code, setCode] = useState(undefined);
  const [offset, setOffset] = useState(0);
  const [selected, setSelected] = useState(new Set());
  const [open, setOpen] = useState(null);
  const [edited, setEdited] = useState(null);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const load = (fresh) => {
    const query = new URLSearchParams({
      offset: String(offset),
      limit: '50',
      ...(code ? { code } : {}),
      ...(fresh ? { fresh: '1' } : {}),
    });
    return api(`/api/dlq/${task}?${query}`).then(setScan, (error) => setMessage(error.message));
  };
  useEffect(() => {
    setSelected(new Set());
    void load(false);
  }, [task, code, offset]);
  // While the console is still reading the DLQ, show what it has and ask again shortly.
  useEffect(() => {
    if (!scan?.scanning) return undefined;
    const timer = setTimeout(() => void load(false), 500);
    return () => clearTimeout(timer);
  }, [scan]);
  const act = async (action, pick, confirmText) => {
    if (confirmText && !confirm(confirmText)) return;
    setBusy(true);
    try {
      const result = await api(`/api/dlq/${task}/${action}`, { method: 'POST', body: JSON.stringify(pick) });
      setMessage(
        `${action === 'redrive' ? 'Redrove' : 'Deleted'} ${result.moved} message(s).${result.missing.length ? ` ${result.missing.length} were no longer there.` : ''}`,
      );
      setSelected(new Set());
      setOpen(null);
      setEdited(null);
      await load(true);
    } catch (error) {
      const details = error.data?.violations?.map((v) => `${v.path}: ${v.message}`).join('; ');
      setMessage(`${error.message}${details ? ` (${details})` : ''}`);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  return html`
    <h2>Dead letters</h2>
    <div class="toolbar" role="tablist" aria-label="task">
      ${meta.tasks.map((t) => html`<a href=${`#/dlq/${t.name}`} role="tab" aria-selected=${t.name === task} class=${t.name === task ? 'badge ok' : 'badge'}>${t.name}</a>`)}
    </div>
    <p class="status" role="status" aria-live="polite">${message}</p>
    ${
      !scan
        ? html`<p class="loading">Reading the dead-letter queue…</p>`
        : html`
          <p class="muted" aria-busy=${scan.scanning}>${
            scan.scanning
              ? `Reading the dead-letter queue: ${number(scan.read)} of about ${number(scan.total)} so far…`
              : `${number(scan.read)} of ${number(scan.total)} message(s) read at ${scan.scannedAt.slice(11, 19)} UTC.`
          } <button onClick=${() => load(true)} disabled=${busy || scan.scanning}>Read again</button></p>
          <div class="codes" aria-label="failure codes">
            <button aria-pressed=${code === undefined} onClick=${() => {
              setCode(undefined);
              setOffset(0);
            }}>all (${number(scan.read)})</button>
            ${scan.codes.map(
              (c) =>
                html`<button aria-pressed=${code === c.code} data-code=${c.code} onClick=${() => {
                  setCode(c.code);
                  setOffset(0);
                }}>${c.code} (${number(c.count)})</button>`,
            )}
          </div>
          <div class="toolbar">
            <button class="primary" disabled=${busy || scan.scanning || meta.readOnly || selected.size === 0} onClick=${() => act('redrive', { messageIds: [...selected] })}>Redrive selected (${selected.size})</button>
            ${code ? html`<button disabled=${busy || scan.scanning || meta.readOnly} onClick=${() => act('redrive', { code }, `Redrive every ${code} message of ${task}?`)}>Redrive all ${code}</button>` : ''}
            <button class="danger" disabled=${busy || scan.scanning || meta.readOnly || selected.size === 0} onClick=${() => act('delete', { messageIds: [...selected] }, `Delete ${selected.size} message(s) for good?`)}>Delete selected</button>
          </div>
          <table aria-label="dead-lettered messages">
            <thead><tr><th scope="col"><span class="muted">select</span></th><th scope="col">code</th><th scope="col">reason</th><th scope="col" class="num">attempts</th><th scope="col">first failure</th><th scope="col">source queue</th><th scope="col">message</th></tr></thead>
            <tbody>
              ${scan.messages.map(
                (letter) => html`
                  <tr data-message=${letter.messageId}>
                    <td><input type="checkbox" aria-label=${`select ${letter.messageId}`} checked=${selected.has(letter.messageId)} onChange=${() => toggle(letter.messageId)} /></td>
                    <td><span class="badge bad">${letter.code}</span></td>
                    <td>${letter.reason ?? '—'}</td>
                    <td class="num">${letter.attempts ?? '—'}</td>
                    <td>${letter.firstFailureAt?.replace('T', ' ').slice(0, 19) ?? '—'}</td>
                    <td>${letter.sourceQueue?.split('/').pop() ?? '—'}</td>
                    <td><button onClick=${() => {
                      setOpen(letter);
                      setEdited(null);
                    }}>Open</button></td>
                  </tr>
                `,
              )}
            </tbody>
          </table>
          <div class="toolbar">
            <button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - 50))}>Previous</button>
            <span>${scan.matching ? `${offset + 1}–${Math.min(offset + 50, scan.matching)} of ${number(scan.matching)}` : 'none'}</span>
            <button disabled=${offset + 50 >= scan.matching} onClick=${() => setOffset(offset + 50)}>Next</button>
          </div>
          ${
            open &&
            html`
              <section aria-label="message" class="detail">
                <h3>${open.messageId}</h3>
                ${open.violations.length ? html`<ul class="violations">${open.violations.map((v) => html`<li><code>${v.path || '/'}</code> ${v.message}</li>`)}</ul>` : html`<p class="muted">The body is a valid ${task} task.</p>`}
                ${
                  edited === null
                    ? html`<${Body} text=${open.body} violations=${open.violations} />
                        <div class="toolbar"><button disabled=${meta.readOnly} onClick=${() => setEdited(prettyJson(open.body))}>Edit and redrive</button></div>`
                    : html`<label>Body<textarea rows="16" style="width:100%;font-family:monospace" value=${edited} onInput=${(e) => setEdited(e.target.value)}></textarea></label>
                        <div class="toolbar">
                          <button class="primary" disabled=${busy} onClick=${() => act('redrive', { messageIds: [open.messageId], body: compactJson(edited) })}>Validate and redrive</button>
                          <button onClick=${() => setEdited(null)}>Cancel</button>
                        </div>`
                }
              </section>
            `
          }
        `
    }
  `;
}

const prettyJson = (text) => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};
const compactJson = (text) => {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
};

/** One form control per schema property; objects nest, the rest are JSON. */
function Field({ name, schema, required, value, onChange, errors, path }) {
  const id = `field-${path.replace(/\//g, '-')}`;
  const error = errors.filter((v) => v.path === path || v.path.startsWith(`${path}/`));
  const invalid = error.length > 0;
  const hint = schema.description ? html`<span class="hint">${schema.description}</span>` : '';
  const message = invalid
    ? html`<span class="error" id=${`${id}-error`}>${error.map((v) => v.message).join('; ')}</span>`
    : '';
  const common = { id, name: path, 'aria-invalid': invalid, 'aria-describedby': invalid ? `${id}-error` : undefined };
  const label = html`${name}${required ? ' *' : ''}`;
  if (schema.type === 'object' && schema.properties) {
    return html`<fieldset><legend>${label}</legend>${Object.entries(schema.properties).map(
      ([key, sub]) =>
        html`<${Field} name=${key} schema=${sub} required=${schema.required?.includes(key)} value=${value?.[key]}
        onChange=${(v) => onChange(prune({ ...(value ?? {}), [key]: v }))} errors=${errors} path=${`${path}/${key}`} />`,
    )}${message}</fieldset>`;
  }
  if (schema.enum) {
    return html`<label for=${id}>${label}${hint}<select ...${common} value=${value ?? ''} onChange=${(e) => onChange(e.target.value || undefined)}>
      <option value="">—</option>${schema.enum.map((option) => html`<option value=${option}>${option}</option>`)}</select>${message}</label>`;
  }
  if (schema.type === 'boolean') {
    return html`<label for=${id}><span>${label}</span>${hint}<input type="checkbox" ...${common} checked=${value === true} onChange=${(e) => onChange(e.target.checked || undefined)} />${message}</label>`;
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    return html`<label for=${id}>${label}${hint}<input type="number" ...${common} value=${value ?? ''} onInput=${(e) => onChange(e.target.value === '' ? undefined : Number(e.target.value))} />${message}</label>`;
  }
  if (schema.type === 'string') {
    const long = (schema.maxLength ?? 0) > 1000 || ['text', 'html', 'body'].includes(name);
    return html`<label for=${id}>${label}${hint}${
      long
        ? html`<textarea rows="4" ...${common} value=${value ?? ''} onInput=${(e) => onChange(e.target.value === '' ? undefined : e.target.value)}></textarea>`
        : html`<input type="text" ...${common} value=${value ?? ''} onInput=${(e) => onChange(e.target.value === '' ? undefined : e.target.value)} />`
    }${message}</label>`;
  }
  // Arrays, unions, free objects: JSON, checked by the same validation as the rest.
  return html`<label for=${id}>${label}<span class="hint">JSON${schema.type === 'array' ? ' array' : ''}, e.g. ${example(schema)}</span>
    <textarea rows="3" ...${common} value=${value === undefined ? '' : JSON.stringify(value)}
      onInput=${(e) => {
        const text = e.target.value.trim();
        if (text === '') return onChange(undefined);
        try {
          onChange(JSON.parse(text));
        } catch {
          onChange(text);
        }
      }}></textarea>${message}</label>`;
}

const prune = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
const example = (schema) =>
  schema.type === 'array' ? (schema.items?.type === 'string' ? '["a@example.com"]' : '[{…}]') : '{…}';

function SendView({ meta, task }) {
  const definition = meta.tasks.find((t) => t.name === task) ?? meta.tasks[0];
  const [payload, setPayload] = useState({});
  const [errors, setErrors] = useState([]);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setPayload({});
    setErrors([]);
    setMessage('');
  }, [definition.name]);
  const submit = async (send) => {
    setBusy(true);
    try {
      const result = await api(`/api/tasks/${definition.name}`, {
        method: 'POST',
        body: JSON.stringify({ payload, send }),
      });
      setErrors([]);
      setMessage(
        send
          ? html`Sent: <a href=${`#/task/${result.id}`}>${result.id}</a> (via ${result.route})`
          : 'Valid: nothing breaks the schema.',
      );
    } catch (error) {
      const violations = (error.data?.violations ?? []).map((v) => ({ ...v, path: v.path.replace(/^\/payload/, '') }));
      setErrors(violations.map((v) => ({ ...v, path: `payload${v.path}` })));
      setMessage(
        violations.length ? `Not sent: ${violations.length} problem(s), shown at their fields.` : error.message,
      );
    } finally {
      setBusy(false);
    }
  };
  const unplaced = errors.filter((v) => v.path === 'payload');
  return html`
    <h2>Send a task</h2>
    <div class="toolbar" aria-label="task">${meta.tasks.map((t) => html`<a href=${`#/send/${t.name}`} class=${t.name === definition.name ? 'badge ok' : 'badge'}>${t.name}</a>`)}</div>
    <form class="send" onSubmit=${(e) => {
      e.preventDefault();
      void submit(true);
    }} aria-label=${`send ${definition.name}`} novalidate>
      ${Object.entries(definition.schema.properties ?? {}).map(
        ([key, sub]) =>
          html`<${Field} name=${key} schema=${sub} required=${definition.schema.required?.includes(key)} value=${payload[key]}
          onChange=${(v) => setPayload(prune({ ...payload, [key]: v }))} errors=${errors} path=${`payload/${key}`} />`,
      )}
      ${unplaced.length ? html`<ul class="violations">${unplaced.map((v) => html`<li>${v.message}</li>`)}</ul>` : ''}
      <div class="toolbar">
        <button type="button" onClick=${() => submit(false)} disabled=${busy}>Check</button>
        <button type="submit" class="primary" disabled=${busy || meta.readOnly}>Send</button>
      </div>
      <p class="status" role="status" aria-live="polite">${message}</p>
    </form>
  `;
}

function TaskView({ id }) {
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
