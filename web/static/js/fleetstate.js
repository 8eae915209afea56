// The fleet as the pages see it: cameras polled from the API every few seconds (fps from the change in
// frames_decoded) and the last event of each camera from the recent events and the live stream. (A
// camera's state changes are the server's: its history, on the camera page.)
import * as api from './api.js';
import * as live from './live.js';

const POLL_MS = 2000;

/** name -> {cam, fps, lastEvent} */
export const cameras = new Map();
const listeners = new Set();
let timer = null;
let offLive = null;
let lastError = null;

export function error() { return lastError; }

/** onChange(fn) calls fn() after each poll or live event; returns off. */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed() { for (const fn of listeners) fn(); }

export async function start() {
  if (timer) return;
  offLive = live.on((kind, ev) => {
    const c = cameras.get(ev.camera);
    if (!c) return;
    if (!c.lastEvent || c.lastEvent.id <= ev.id) c.lastEvent = ev;
    changed();
  });
  await poll(); // first, so the last events find their cameras
  await loadLastEvents();
  timer = setInterval(poll, POLL_MS);
}

export function stop() {
  clearInterval(timer);
  timer = null;
  offLive?.();
  cameras.clear();
}

/** Polls now (after an edit) instead of waiting for the next tick. */
export async function poll() {
  let list;
  try {
    list = await api.cameras();
    lastError = null;
  } catch (e) {
    lastError = e;
    changed();
    return;
  }
  const now = performance.now();
  const seen = new Set();
  for (const cam of list) {
    seen.add(cam.name);
    const prev = cameras.get(cam.name);
    const entry = prev || { fps: 0, lastEvent: null };
    const st = cam.state;
    if (prev && st && prev.cam.state) {
      const dt = (now - prev.at) / 1000;
      const df = st.frames_decoded - prev.cam.state.frames_decoded;
      entry.fps = dt > 0 && df >= 0 ? df / dt : 0;
    }
    entry.cam = cam;
    entry.at = now;
    cameras.set(cam.name, entry);
  }
  for (const name of cameras.keys()) if (!seen.has(name)) cameras.delete(name);
  changed();
}

async function loadLastEvents() {
  try {
    const page = await api.events({ limit: 1000 });
    for (const ev of page.events) {
      const c = cameras.get(ev.camera);
      if (c && (!c.lastEvent || c.lastEvent.id < ev.id)) c.lastEvent = ev;
    }
    changed();
  } catch { /* the fleet still shows without them */ }
}

const RANK = { failed: 0, reconnecting: 1, starting: 3, stopped: 4, disabled: 5, running: 6 };

/** A camera's problem, or '' when it is fine: failed, reconnecting, no frames lately, slow start. */
export function problem(entry) {
  const st = entry.cam.state;
  if (!st) return 'no state';
  if (st.state === 'failed' || st.state === 'reconnecting') return st.reason || st.state;
  const age = (Date.now() - new Date(st.last_frame || st.since).getTime()) / 1000;
  if (st.state === 'running' && age > 10) return `no frame for ${Math.round(age)} s`;
  if (st.state === 'starting' && age > 30) return `starting for ${Math.round(age)} s`;
  return '';
}

/** Sort key: problems first (failed, reconnecting, stale), then by state, then by name. */
export function rank(entry) {
  const st = entry.cam.state?.state;
  if (problem(entry) && st === 'running') return 2;
  return RANK[st] ?? 2;
}
