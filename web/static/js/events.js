// The event timeline (filters, paging, live updates) and the event page.
import { h, fill, ago, when, scoreBar, badge, seconds } from './dom.js';
import * as api from './api.js';
import * as live from './live.js';
import * as fleet from './fleetstate.js';

const PAGE = 50;

/** One event as a list item linking to its page. */
export function eventItem(ev, isNew) {
  return h('li', { class: isNew ? 'new' : '', 'data-event': ev.id },
    h('a', { href: `#/events/${ev.id}` },
      ev.keyframe_ref ? h('img', { class: 'thumb', src: ev.keyframe_ref, alt: '', loading: 'lazy' }) : h('span', { class: 'thumb' }),
      h('span', {},
        h('div', {}, h('span', { class: 'label' }, ev.label), ' ', h('span', { class: 'muted' }, 'on '), ev.camera),
        ev.caption ? h('div', { class: 'caption' }, ev.caption) : null,
        h('div', { class: 'meta' }, `${when(ev.start)} · ${seconds((new Date(ev.end) - new Date(ev.start)) / 1000)} · exit ${ev.exit_stage}`)),
      scoreBar(ev.score)));
}

// Filters survive navigation within the page; the camera page links here with ?camera=.
const filters = { camera: '', label: '', min_score: '', from: '', to: '' };

export function renderTimeline(main, params) {
  if (params.camera !== undefined) filters.camera = params.camera;
  const camSel = h('select', { name: 'camera', id: 'f-camera' }, h('option', { value: '' }, 'All cameras'));
  const names = [...fleet.cameras.keys()].sort();
  if (filters.camera && !names.includes(filters.camera)) names.unshift(filters.camera);
  for (const n of names) camSel.append(h('option', { value: n }, n));
  camSel.value = filters.camera;
  const label = h('input', { name: 'label', id: 'f-label', placeholder: 'any', value: filters.label, list: 'labels', size: 12 });
  const labels = h('datalist', { id: 'labels' });
  const score = h('input', { name: 'min_score', id: 'f-score', type: 'number', min: 0, max: 1, step: 0.05, placeholder: '0', value: filters.min_score, style: 'width:6em' });
  const from = h('input', { name: 'from', id: 'f-from', type: 'datetime-local', step: 1, value: filters.from });
  const to = h('input', { name: 'to', id: 'f-to', type: 'datetime-local', step: 1, value: filters.to });
  const liveBox = h('input', { type: 'checkbox', id: 'f-live', checked: true });
  const list = h('ol', { class: 'events', id: 'timeline' });
  const more = h('button', { type: 'button', class: 'ghost', id: 'more', hidden: true }, 'Load older');
  const msg = h('p', { class: 'muted', id: 'timeline-status' });
  const form = h('form', { class: 'toolbar', id: 'event-filters' },
    h('label', {}, 'Camera', camSel), h('label', {}, 'Label', label, labels), h('label', {}, 'Min score', score),
    h('label', {}, 'From', from), h('label', {}, 'To', to),
    h('label', { class: 'check' }, liveBox, 'Live'),
    h('button', { type: 'submit' }, 'Apply'), h('button', { type: 'reset', class: 'ghost' }, 'Clear'));
  main.append(h('h1', {}, 'Events'), form, list, more, msg);

  let cursor = null;
  let seenLabels = new Set();
  let gen = 0; // a newer query makes older answers stale

  const query = () => {
    const q = { camera: filters.camera, label: filters.label, min_score: filters.min_score, limit: PAGE };
    if (filters.from) q.from = new Date(filters.from).toISOString();
    if (filters.to) q.to = new Date(filters.to).toISOString();
    return q;
  };
  const addLabel = (l) => {
    if (seenLabels.has(l)) return;
    seenLabels.add(l);
    labels.append(h('option', { value: l }));
  };
  async function load(reset) {
    const my = ++gen;
    if (reset) { cursor = null; fill(list); }
    msg.textContent = 'Loading…';
    try {
      const page = await api.events({ ...query(), cursor: cursor || '' });
      if (my !== gen) return;
      for (const ev of page.events) { list.append(eventItem(ev, false)); addLabel(ev.label); }
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      msg.textContent = list.children.length ? '' : 'No events match.';
    } catch (e) {
      if (my === gen) msg.textContent = e.message;
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    Object.assign(filters, { camera: camSel.value, label: label.value.trim(), min_score: score.value, from: from.value, to: to.value });
    load(true);
  });
  form.addEventListener('reset', () => {
    setTimeout(() => { Object.assign(filters, { camera: '', label: '', min_score: '', from: '', to: '' }); camSel.value = ''; load(true); });
  });
  more.addEventListener('click', () => load(false));

  const matches = (ev) => (!filters.camera || ev.camera === filters.camera) && (!filters.label || ev.label === filters.label)
    && ev.score >= (Number(filters.min_score) || 0)
    && (!filters.from || new Date(ev.start) >= new Date(filters.from))
    && (!filters.to || new Date(ev.start) < new Date(filters.to));
  const off = live.on((kind, ev) => {
    addLabel(ev.label);
    const old = list.querySelector(`li[data-event="${CSS.escape(ev.id)}"]`);
    if (kind === 'update') {
      if (old) old.replaceWith(eventItem(ev, old.classList.contains('new')));
      return;
    }
    if (old || !liveBox.checked || !matches(ev)) return;
    list.prepend(eventItem(ev, true));
    msg.textContent = '';
  });
  load(true);
  return off;
}

// How long the event page waits for a clip still being recorded (the post-roll, the remux).
const CLIP_WAIT_MS = 30000;

/** The clip player: the event's MP4 in a video element, its tracks' boxes on a canvas above it. */
function clipPlayer(ev) {
  const video = h('video', { id: 'event-clip', class: 'clip-video', src: ev.clip_ref, controls: true, muted: true,
    playsinline: true, preload: 'auto', poster: ev.keyframe_ref || undefined });
  video.muted = true; // the attribute alone does not mute a video made by script
  const canvas = h('canvas', { id: 'event-boxes', class: 'clip-boxes', 'aria-hidden': 'true' });
  const boxes = h('input', { type: 'checkbox', id: 'event-boxes-on', checked: true });
  const tracks = ev.tracks || [];
  const paint = () => {
    const w = video.clientWidth, ht = video.clientHeight;
    if (!w || !ht) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(ht * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, ht);
    if (!boxes.checked || !tracks.length) return;
    // The picture sits letterboxed in the element: map the normalised boxes onto it.
    const vw = video.videoWidth || 16, vh = video.videoHeight || 9;
    const scale = Math.min(w / vw, ht / vh);
    const pw = vw * scale, ph = vh * scale, ox = (w - pw) / 2, oy = (ht - ph) / 2;
    g.lineWidth = 2;
    g.font = '12px system-ui, sans-serif';
    for (const t of tracks) {
      const b = t.box;
      const x = ox + b.x0 * pw, y = oy + b.y0 * ph, bw = (b.x1 - b.x0) * pw, bh = (b.y1 - b.y0) * ph;
      g.strokeStyle = '#ffd400';
      g.strokeRect(x, y, bw, bh);
      const text = `#${t.id}${t.direction ? ' ' + t.direction : ''} ${t.seconds.toFixed(1)} s`;
      g.fillStyle = 'rgba(0,0,0,0.6)';
      g.fillRect(x, Math.max(y - 16, 0), g.measureText(text).width + 8, 16);
      g.fillStyle = '#ffd400';
      g.fillText(text, x + 4, Math.max(y - 4, 12));
    }
  };
  video.addEventListener('loadedmetadata', paint);
  boxes.addEventListener('change', paint);
  const ro = new ResizeObserver(paint);
  ro.observe(video);
  video.addEventListener('canplay', () => { video.play().catch(() => {}); }, { once: true });
  return h('div', {},
    h('div', { class: 'clip' }, video, canvas),
    tracks.length
      ? h('p', { class: 'muted' }, h('label', { class: 'check' }, boxes, `Track boxes (${tracks.length}, each at its last position)`))
      : h('p', { class: 'muted' }, 'No tracked object in this event.'),
    h('p', {}, h('a', { href: ev.clip_ref, download: `${ev.camera}-${ev.id}.mp4` }, 'Download clip (MP4)')));
}

export async function renderEvent(main, { id }) {
  let ev;
  try {
    ev = await api.event(id);
  } catch (e) {
    main.append(h('h1', {}, 'Event'), h('p', { class: 'form-error' }, e.message));
    return null;
  }
  const head = h('div');
  const media = h('div', { id: 'event-media' });
  const panel = h('div', { class: 'panel' });
  let stopped = false;
  let clipShown = false;
  // The clip column is built once (a redraw would restart the video); the rest follows updates.
  const drawMedia = () => {
    if (ev.clip_ref) {
      clipShown = true;
      fill(media, clipPlayer(ev));
      return;
    }
    fill(media, ev.keyframe_ref
      ? h('img', { class: 'snapshot', id: 'event-keyframe', src: ev.keyframe_ref, alt: `keyframe of ${ev.label} on ${ev.camera}` })
      : h('p', { class: 'muted' }, 'No keyframe stored.'),
    h('p', { class: 'muted', id: 'event-clip-status' }, 'No clip yet: it is stored a few seconds after the event ends.'));
  };
  const draw = () => {
    fill(head, h('h1', {}, ev.label, badge(`${Math.round(ev.score * 100)}%`, 'ok'), h('span', { class: 'muted' }, 'on '),
      h('a', { href: `#/cameras/${encodeURIComponent(ev.camera)}` }, ev.camera)));
    fill(panel,
      h('dl', { class: 'kv' },
        h('dt', {}, 'Caption'), h('dd', { id: 'event-caption' }, ev.caption || h('span', { class: 'muted' }, 'none yet')),
        h('dt', {}, 'Label'), h('dd', {}, ev.label),
        h('dt', {}, 'Score'), h('dd', {}, scoreBar(ev.score)),
        h('dt', {}, 'Decided by'), h('dd', {}, `exit ${ev.exit_stage}`, ev.exit_stage === 0 ? ' (first stage, early exit)' : ''),
        h('dt', {}, 'Start'), h('dd', {}, when(ev.start), h('span', { class: 'muted' }, ` (${ago(ev.start)})`)),
        h('dt', {}, 'Duration'), h('dd', {}, seconds((new Date(ev.end) - new Date(ev.start)) / 1000)),
        ev.zones && ev.zones.length ? [h('dt', {}, 'Zones'), h('dd', {}, ev.zones.join(', '))] : null,
        h('dt', {}, 'Id'), h('dd', { class: 'mono' }, ev.id)),
      ev.thumbnail_ref ? [h('h2', {}, 'Illustration'), h('img', { class: 'thumbnail', src: ev.thumbnail_ref, alt: 'illustrative thumbnail' }),
        h('p', { class: 'muted' }, 'Drawn from the label and scene, not from the camera.')] : null,
      clipShown && ev.keyframe_ref ? [h('h2', {}, 'Snapshot'), h('img', { class: 'snapshot side', id: 'event-keyframe', src: ev.keyframe_ref, alt: `keyframe of ${ev.label} on ${ev.camera}` })] : null,
      h('p', {}, h('a', { href: `#/events?camera=${encodeURIComponent(ev.camera)}` }, `More events on ${ev.camera}`)));
  };
  main.append(head, h('div', { class: 'grid2' }, media, panel));
  drawMedia();
  draw();
  // A fresh event's clip comes a post-roll and a remux after it: ask again for a while.
  if (!ev.clip_ref) {
    (async () => {
      const until = Date.now() + CLIP_WAIT_MS;
      while (!stopped && !ev.clip_ref && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 1500));
        if (stopped) return;
        try {
          const fresh = await api.event(id);
          if (fresh.clip_ref) { ev = { ...ev, clip_ref: fresh.clip_ref }; drawMedia(); draw(); }
        } catch { /* the next try */ }
      }
      if (!stopped && !ev.clip_ref) {
        const st = document.getElementById('event-clip-status');
        if (st) st.textContent = 'This event has no clip (recorded by another node, dropped, or deleted by retention).';
      }
    })();
  }
  const off = live.on((kind, upd) => {
    // Live updates carry no clip_ref (the clip is not stored with the event): keep the one we have.
    if (kind === 'update' && upd.id === ev.id) { ev = { ...upd, clip_ref: upd.clip_ref || ev.clip_ref }; draw(); }
  });
  return () => { stopped = true; off(); };
}
