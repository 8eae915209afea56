// Zones and masks drawn on a camera's picture: click points on the latest keyframe, finish the
// polygon, save (PUT the camera with its zones and masks; the camera restarts with them).
import { h, fill } from './dom.js';
import * as api from './api.js';
import * as fleet from './fleetstate.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

const round = (x) => Math.round(Math.min(1, Math.max(0, x)) * 10000) / 10000;

export async function renderZones(main, { name }) {
  let cam;
  let picture = null;
  try {
    [cam, picture] = await Promise.all([api.camera(name),
      api.events({ camera: name, limit: 20 }).then((p) => p.events.find((e) => e.keyframe_ref)?.keyframe_ref || null)]);
  } catch (e) {
    main.append(h('h1', {}, `Zones and masks of ${name}`), h('p', { class: 'form-error' }, e.message));
    return null;
  }
  const zones = structuredClone(cam.zones || []);
  const masks = structuredClone(cam.masks || []);
  let points = []; // the polygon being drawn

  const svg = s('svg', { id: 'zones-overlay', viewBox: '0 0 1 1', preserveAspectRatio: 'none', class: 'overlay' });
  const stage = h('div', { class: 'stage' },
    picture ? h('img', { src: picture, alt: `keyframe of ${name}`, class: 'snapshot', id: 'zones-picture' })
      : h('div', { class: 'snapshot empty' }, 'No keyframe yet: the outline is drawn on an empty frame.'),
    svg);
  const kind = h('select', { id: 'draw-kind' }, h('option', { value: 'mask' }, 'Mask (ignore motion)'), h('option', { value: 'zone' }, 'Zone (named area)'));
  const zoneName = h('input', { id: 'zone-name', placeholder: 'zone name', pattern: '[A-Za-z0-9_-]{1,64}', size: 14 });
  const list = h('ul', { class: 'history', id: 'zones-list' });
  const status = h('p', { class: 'muted', id: 'zones-status', role: 'status' });
  const err = h('p', { class: 'form-error', id: 'zones-error', role: 'alert' });
  const needURL = /REDACTED/.test(cam.url);
  const url = h('input', { id: 'zones-url', size: 50, placeholder: 'rtsp://user:password@host/stream', value: needURL ? '' : cam.url });

  const draw = () => {
    svg.replaceChildren();
    for (const m of masks) svg.append(s('polygon', { points: m.map((p) => p.join(',')).join(' '), class: 'mask' }));
    for (const z of zones) svg.append(s('polygon', { points: z.polygon.map((p) => p.join(',')).join(' '), class: 'zone' }));
    if (points.length) {
      svg.append(s('polyline', { points: points.map((p) => p.join(',')).join(' '), class: 'drawing' }));
      for (const [x, y] of points) svg.append(s('circle', { cx: x, cy: y, r: 0.008, class: 'vertex' }));
    }
    fill(list,
      masks.map((m, i) => h('li', { 'data-mask': i }, h('strong', {}, `mask ${i + 1}`), ` ${m.length} points `,
        h('button', { type: 'button', class: 'ghost', onclick: () => { masks.splice(i, 1); draw(); } }, 'Delete'))),
      zones.map((z, i) => h('li', { 'data-zone': z.name }, h('strong', {}, `zone ${z.name}`), ` ${z.polygon.length} points `,
        h('button', { type: 'button', class: 'ghost', onclick: () => { zones.splice(i, 1); draw(); } }, 'Delete'))));
    if (!masks.length && !zones.length) list.append(h('li', { class: 'muted' }, 'None yet.'));
    status.textContent = points.length ? `${points.length} points: click to add, Finish to close the polygon.` : '';
  };
  svg.addEventListener('click', (e) => {
    const r = svg.getBoundingClientRect();
    points.push([round((e.clientX - r.left) / r.width), round((e.clientY - r.top) / r.height)]);
    draw();
  });
  const finish = () => {
    err.textContent = '';
    if (points.length < 3) { err.textContent = 'A polygon needs at least 3 points.'; return; }
    if (kind.value === 'zone') {
      const n = zoneName.value.trim();
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(n) || zones.some((z) => z.name === n)) {
        err.textContent = 'Name the zone (1 to 64 of A-Z a-z 0-9 _ -, unique).';
        return;
      }
      zones.push({ name: n, polygon: points });
      zoneName.value = '';
    } else masks.push(points);
    points = [];
    draw();
  };
  const save = async () => {
    err.textContent = '';
    const body = { ...cam, zones, masks, url: url.value.trim() };
    delete body.state;
    if (!zones.length) delete body.zones;
    if (!masks.length) delete body.masks;
    if (!body.url || /REDACTED/.test(body.url)) { err.textContent = 'Type the camera URL with its password to save.'; return; }
    try {
      cam = await api.replaceCamera(name, body);
      status.textContent = `Saved ${masks.length} masks and ${zones.length} zones; the camera restarted with them.`;
      fleet.poll();
    } catch (e) {
      err.textContent = e.message.replace(/^invalid camera:\s*/, '');
    }
  };

  main.append(
    h('h1', {}, 'Zones and masks of ', h('a', { href: `#/cameras/${encodeURIComponent(name)}` }, name)),
    h('p', { class: 'muted' }, 'Masks hide motion from the gate, the model and the tracker (a tree, a road, a clock overlay). Zones name areas that events touch.'),
    h('div', { class: 'grid2' },
      stage,
      h('div', { class: 'panel' },
        h('div', { class: 'toolbar' }, h('label', {}, 'Draw', kind), h('label', {}, 'Zone name', zoneName)),
        h('div', { class: 'actions' },
          h('button', { type: 'button', id: 'finish-polygon', onclick: finish }, 'Finish polygon'),
          h('button', { type: 'button', class: 'ghost', onclick: () => { points.pop(); draw(); } }, 'Undo point'),
          h('button', { type: 'button', class: 'ghost', onclick: () => { points = []; draw(); } }, 'Clear')),
        h('h2', {}, 'On this camera'), list,
        needURL ? h('label', { class: 'field' }, h('span', {}, 'Camera URL'), url, h('small', {}, 'Its password is shown redacted: type the URL to save.')) : null,
        err, status,
        h('div', { class: 'actions' }, h('button', { type: 'button', id: 'save-zones', onclick: save }, 'Save'),
          h('a', { href: `#/cameras/${encodeURIComponent(name)}` }, 'Back')))));
  draw();
  return null;
}
