// The fleet view: every camera, problems first, with filter, search and paging (usable at 500+).
import { h, fill, ago, stateBadge, badge } from './dom.js';
import * as fleet from './fleetstate.js';
import { isAdmin } from './role.js';

const PAGE = 50;
const FILTERS = [
  ['all', 'All', () => true],
  ['problems', 'Problems', (e) => fleet.problem(e) !== ''],
  ['running', 'Running', (e) => e.cam.state?.state === 'running'],
  ['awake', 'Gate awake', (e) => e.cam.state?.gate_open],
  ['asleep', 'Gate asleep', (e) => e.cam.state && !e.cam.state.gate_open],
  ['disabled', 'Disabled', (e) => e.cam.enabled === false],
];

// The view's settings survive navigation within the page.
const view = { filter: 'all', search: '', page: 0 };

export function render(main) {
  const summary = h('div', { class: 'summary', role: 'group', 'aria-label': 'Filter' });
  const search = h('input', { type: 'search', placeholder: 'Search name, zone, URL', value: view.search,
    'aria-label': 'Search cameras', id: 'fleet-search' });
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  const status = h('p', { class: 'muted', id: 'fleet-status' });
  main.append(
    h('h1', {}, 'Fleet'),
    summary,
    h('div', { class: 'toolbar' }, search, isAdmin() ? h('a', { href: '#/cameras/new', id: 'add-camera' }, '+ Add camera') : null),
    h('table', { class: 'fleet', id: 'fleet' },
      h('thead', {}, h('tr', {}, ['Camera', 'State', 'fps', 'Frames', 'Gate', 'Reconnects', 'Last event', 'Zone']
        .map((t) => h('th', { scope: 'col' }, t)))),
      body),
    pager, status);
  search.addEventListener('input', () => { view.search = search.value; view.page = 0; draw(); });

  function draw() {
    const t0 = performance.now();
    const all = [...fleet.cameras.values()];
    const q = view.search.trim().toLowerCase();
    const counts = {};
    for (const [key, , test] of FILTERS) counts[key] = all.filter(test).length;
    fill(summary, FILTERS.map(([key, label]) => h('button', {
      type: 'button', class: `ghost ${view.filter === key ? 'selected' : ''}`, 'data-filter': key,
      'aria-pressed': String(view.filter === key),
      onclick: () => { view.filter = key; view.page = 0; draw(); },
    }, `${label} ${counts[key]}`)));
    const test = FILTERS.find(([k]) => k === view.filter)[2];
    const rows = all.filter((e) => test(e) && (!q || [e.cam.name, e.cam.zone, e.cam.url].some((s) => s?.toLowerCase().includes(q))))
      .sort((a, b) => fleet.rank(a) - fleet.rank(b) || a.cam.name.localeCompare(b.cam.name));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    view.page = Math.min(view.page, pages - 1);
    const shown = rows.slice(view.page * PAGE, (view.page + 1) * PAGE);
    fill(body, shown.length ? shown.map(row) : h('tr', {}, h('td', { colspan: 8, class: 'empty' },
      all.length ? 'No camera matches.' : 'No cameras yet.')));
    fill(pager,
      h('button', { type: 'button', class: 'ghost', disabled: view.page === 0, onclick: () => { view.page--; draw(); } }, '‹ Prev'),
      h('span', { class: 'muted' }, `Page ${view.page + 1} of ${pages} · ${rows.length} cameras`),
      h('button', { type: 'button', class: 'ghost', disabled: view.page >= pages - 1, onclick: () => { view.page++; draw(); } }, 'Next ›'));
    const err = fleet.error();
    const ms = performance.now() - t0;
    status.textContent = err ? `Update failed: ${err.message}` : `Updated ${new Date().toLocaleTimeString()} · drawn in ${ms.toFixed(1)} ms`;
    status.dataset.renderMs = ms.toFixed(2);
  }

  draw();
  return fleet.onChange(draw);
}

function row(e) {
  const { cam } = e;
  const st = cam.state || {};
  const prob = fleet.problem(e);
  const ev = e.lastEvent;
  return h('tr', { class: prob ? 'problem' : '', 'data-camera': cam.name },
    h('td', {}, h('a', { href: `#/cameras/${encodeURIComponent(cam.name)}` }, cam.name)),
    h('td', {}, stateBadge(st), prob ? h('div', { class: 'reason', title: prob }, prob) : null),
    h('td', { class: 'num' }, st.state === 'running' ? e.fps.toFixed(1) : '–'),
    h('td', { class: 'num' }, (st.frames_decoded ?? 0).toLocaleString()),
    h('td', {}, st.state === 'running'
      ? [badge(st.gate_open ? 'awake' : 'asleep', st.gate_open ? 'awake' : 'asleep'),
        h('span', { class: 'muted', title: 'frames the gate skipped' }, ` ${Math.round((st.skip_ratio || 0) * 100)}% skipped`)]
      : '–'),
    h('td', { class: 'num' }, st.reconnects ?? 0),
    h('td', {}, ev ? h('a', { href: `#/events/${ev.id}`, title: ev.caption || '' }, `${ev.label} `, h('span', { class: 'muted' }, ago(ev.start))) : h('span', { class: 'muted' }, '–')),
    h('td', {}, cam.zone || ''));
}
