// Dead letters: a task's DLQ grouped by failure code, each message's reason and body, redrive
// (edited or not) and delete.
import { useEffect, useState } from 'preact/hooks';
import { api, compactJson, html, number, prettyJson } from './lib.js';

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

/** One dead letter opened: why it failed, its body, and a redrive with the body edited. */
function LetterDetail({ letter, task, readOnly, busy, onRedrive }) {
  const [edited, setEdited] = useState(null);
  return html`
    <section aria-label="message" class="detail">
      <h3>${letter.messageId}</h3>
      ${letter.violations.length ? html`<ul class="violations">${letter.violations.map((v) => html`<li><code>${v.path || '/'}</code> ${v.message}</li>`)}</ul>` : html`<p class="muted">The body is a valid ${task} task.</p>`}
      ${
        edited === null
          ? html`<${Body} text=${letter.body} violations=${letter.violations} />
              <div class="toolbar"><button disabled=${readOnly} onClick=${() => setEdited(prettyJson(letter.body))}>Edit and redrive</button></div>`
          : html`<label>Body<textarea rows="16" style="width:100%;font-family:monospace" value=${edited} onInput=${(e) => setEdited(e.target.value)}></textarea></label>
              <div class="toolbar">
                <button class="primary" disabled=${busy} onClick=${() => onRedrive(compactJson(edited))}>Validate and redrive</button>
                <button onClick=${() => setEdited(null)}>Cancel</button>
              </div>`
      }
    </section>
  `;
}

export function DeadLetterView({ meta, task }) {
  const [scan, setScan] = useState(null);
  const [code, setCode] = useState(undefined);
  const [offset, setOffset] = useState(0);
  const [selected, setSelected] = useState(new Set());
  const [open, setOpen] = useState(null);
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
                    <td><button onClick=${() => setOpen(letter)}>Open</button></td>
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
            html`<${LetterDetail} key=${open.messageId} letter=${open} task=${task} readOnly=${meta.readOnly} busy=${busy}
            onRedrive=${(body) => act('redrive', { messageIds: [open.messageId], body })} />`
          }
        `
    }
  `;
}
