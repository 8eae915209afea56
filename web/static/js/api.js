// The public HTTP API (docs/openapi.yaml), called with the session cookie. Mutations send JSON only.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Fired on window when the API answers 401 (the session ended). */
export const UNAUTHORIZED = 'mvwatch:unauthorized';

export async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/api/v1/session')) window.dispatchEvent(new Event(UNAUTHORIZED));
    throw new ApiError(res.status, data?.error || `${res.status} ${res.statusText}`);
  }
  return data;
}

export const get = (path) => request('GET', path);
const enc = encodeURIComponent;

export const session = () => get('/api/v1/session');
export const login = (token) => request('POST', '/api/v1/session', { token });
export const logout = () => request('DELETE', '/api/v1/session');

export const cameras = async () => (await get('/api/v1/cameras')).cameras;
export const camera = (name) => get(`/api/v1/cameras/${enc(name)}`);
export const addCamera = (cam) => request('POST', '/api/v1/cameras', cam);
export const replaceCamera = (name, cam) => request('PUT', `/api/v1/cameras/${enc(name)}`, cam);
export const removeCamera = (name) => request('DELETE', `/api/v1/cameras/${enc(name)}`);
export const event = (id) => get(`/api/v1/events/${enc(id)}`);

/** Query string of an event filter {camera, label, min_score, from, to, limit, cursor, order}. */
export function eventQuery(f) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  return q.toString();
}

export const events = (f) => get(`/api/v1/events?${eventQuery(f)}`);

/**
 * Maps an API validation message to form fields. The API joins problems with "; ", each naming its
 * field path ("invalid camera: url: scheme must be ...", or "cameras[0].url: ..." from a config):
 * returns {fields: {url: "scheme must be ..."}, rest: [messages naming no known field]}.
 */
export function fieldErrors(message, known) {
  const out = { fields: {}, rest: [] };
  const body = message.replace(/^invalid camera:\s*/, '');
  for (const part of body.split(/;\s+/)) {
    const m = part.match(/^(?:cameras\[\d+\]\.)?([a-z_]+)(?:[.[][^:]*)?:\s*(.*)$/s);
    if (m && known.includes(m[1])) {
      const f = m[1];
      const sub = part.slice(0, part.indexOf(':')).replace(/^cameras\[\d+\]\./, '');
      const text = sub === f ? m[2] : `${sub}: ${m[2]}`;
      out.fields[f] = out.fields[f] ? `${out.fields[f]}; ${text}` : text;
    } else {
      out.rest.push(part);
    }
  }
  return out;
}
