// The overview: every task's queue and DLQ, live, with a sparkline of its activity.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { age, api, html, number } from './lib.js';

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

export function Overview({ meta }) {
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
