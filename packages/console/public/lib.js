// What every view of the console's page shares: htm bound to preact, the API call with the
// write token, the route from the URL's fragment, and number/JSON formatting.
import htm from 'htm';
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export const html = htm.bind(h);

// The write token arrives once in the link's fragment (#token=...): kept for this tab only.
if (location.hash.startsWith('#token=')) {
  sessionStorage.setItem('tq-console-token', decodeURIComponent(location.hash.slice('#token='.length)));
  history.replaceState(null, '', `${location.pathname}#/`);
}
export const token = () => sessionStorage.getItem('tq-console-token') ?? '';

export async function api(path, options = {}) {
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

export function useRoute() {
  const read = () => (location.hash.replace(/^#\/?/, '') || '').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const number = (value) => (value === undefined || value === null ? '—' : Number(value).toLocaleString('en-US'));
export const age = (seconds) =>
  seconds === undefined || seconds === null
    ? '—'
    : seconds < 120
      ? `${Math.round(seconds)} s`
      : seconds < 7200
        ? `${Math.round(seconds / 60)} min`
        : `${Math.round(seconds / 3600)} h`;

export const prettyJson = (text) => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};
export const compactJson = (text) => {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
};
