// One EventSource on /api/v1/events/live for the whole page; views subscribe to it.
import { session } from './api.js';

const listeners = new Set();
let source = null;
let retry = null;
let pill = null;

/** Starts the stream (idempotent); pillEl shows its state. */
export function start(pillEl) {
  pill = pillEl;
  if (source) return;
  connect();
}

export function stop() {
  clearTimeout(retry);
  retry = null;
  source?.close();
  source = null;
  show(false);
}

/** on(fn) calls fn(kind, event) for each live event ('event') and update ('update'); returns off. */
export function on(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function show(up) {
  if (!pill) return;
  pill.hidden = false;
  pill.textContent = up ? 'live' : 'reconnecting';
  pill.className = `pill ${up ? 'on' : 'off'}`;
}

function connect() {
  source = new EventSource('/api/v1/events/live', { withCredentials: true });
  source.onopen = () => show(true);
  const deliver = (kind) => (msg) => {
    let ev;
    try { ev = JSON.parse(msg.data); } catch { return; }
    for (const fn of listeners) fn(kind, ev);
  };
  source.addEventListener('event', deliver('event'));
  source.addEventListener('update', deliver('update'));
  source.onerror = async () => {
    show(false);
    if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
    source = null;
    // A refused stream (401 after the session expired) does not come back on its own.
    try {
      const s = await session();
      if (s.auth_required && !s.authenticated) {
        window.dispatchEvent(new Event('mvwatch:unauthorized'));
        return;
      }
    } catch { /* the server is away: keep trying */ }
    retry = setTimeout(connect, 3000);
  };
}
