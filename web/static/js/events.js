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

export async function renderEvent(main, { id }) {
  let ev;
  try {
    ev = await api.event(id);
  } catch (e) {
    main.append(h('h1', {}, 'Event'), h('p', { class: 'form-error' }, e.message));
    return null;
  }
  const body = h('div');
  const draw = () => fill(body,
    h('h1', {}, ev.label, badge(`${Math.round(ev.score * 100)}%`, 'ok'), h('span', { class: 'muted' }, 'on '),
      h('a', { href: `#/cameras/${encodeURIComponent(ev.camera)}` }, ev.camera)),
    h('div', { class: 'grid2' },
      h('div', {}, ev.keyframe_ref
        ? h('img', { class: 'snapshot', id: 'event-keyframe', src: ev.keyframe_ref, alt: `keyframe of ${ev.label} on ${ev.camera}` })
        : h('p', { class: 'muted' }, 'No keyframe stored.')),
      h('div', { class: 'panel' },
        h('dl', { class: 'kv' },
          h('dt', {}, 'Caption'), h('dd', { id: 'event-caption' }, ev.caption || h('span', { class: 'muted' }, 'none yet')),
          h('dt', {}, 'Label'), h('dd', {}, ev.label),
          h('dt', {}, 'Score'), h('dd', {}, scoreBar(ev.score)),
          h('dt', {}, 'Decided by'), h('dd', {}, `exit ${ev.exit_stage}`, ev.exit_stage === 0 ? ' (first stage, early exit)' : ''),
          h('dt', {}, 'Start'), h('dd', {}, when(ev.start), h('span', { class: 'muted' }, ` (${ago(ev.start)})`)),
          h('dt', {}, 'Duration'), h('dd', {}, seconds((new Date(ev.end) - new Date(ev.start)) / 1000)),
          h('dt', {}, 'Id'), h('dd', { class: 'mono' }, ev.id)),
        ev.thumbnail_ref ? [h('h2', {}, 'Illustration'), h('img', { class: 'thumbnail', src: ev.thumbnail_ref, alt: 'illustrative thumbnail' }),
          h('p', { class: 'muted' }, 'Drawn from the label and scene, not from the camera.')] : null,
        h('p', {}, h('a', { href: `#/events?camera=${encodeURIComponent(ev.camera)}` }, `More events on ${ev.camera}`)))));
  main.append(body);
  draw();
  return live.on((kind, upd) => {
    if (kind === 'update' && upd.id === ev.id) { ev = upd; draw(); }
  });
}
