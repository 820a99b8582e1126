// The send form, generated from the task's payload schema and checked by the server.
import { useEffect, useState } from 'preact/hooks';
import { api, html } from './lib.js';

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

export function SendView({ meta, task }) {
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
