// The camera page (state, reason, reconnects, snapshot, recent events) and the camera form (add, edit).
import { h, fill, ago, when, stateBadge, badge } from './dom.js';
import * as api from './api.js';
import * as live from './live.js';
import * as fleet from './fleetstate.js';
import { eventItem } from './events.js';
import { play } from './liveview.js';
import { isAdmin } from './role.js';

export function renderCamera(main, { name }) {
  const head = h('h1', {}, name);
  const stateBox = h('div', { class: 'panel', id: 'camera-state' });
  const snap = h('div', { id: 'camera-snapshot' }, h('p', { class: 'muted' }, 'No snapshot yet: the latest event\'s keyframe shows here.'));
  const list = h('ol', { class: 'events', id: 'camera-events' });
  const confirmBox = h('span', { class: 'actions', hidden: true },
    h('span', {}, `Remove ${name}? Its events stay stored.`),
    h('button', { type: 'button', class: 'danger', id: 'confirm-remove', onclick: remove }, 'Remove camera'),
    h('button', { type: 'button', class: 'ghost', onclick: () => { confirmBox.hidden = true; } }, 'Cancel'));
  const err = h('p', { class: 'form-error' });
  const video = h('video', { id: 'live-video', class: 'snapshot', autoplay: true, muted: true, playsinline: true });
  video.muted = true; // autoplay needs it as a property too
  const liveMsg = h('p', { class: 'muted', id: 'live-status' }, 'Connecting live video…');
  const liveBox = h('div', { class: 'live' }, video, liveMsg);
  let session = null;
  let gone = false;
  play(video, name).then((s) => {
    if (gone) { s.close(); return; }
    session = s;
    s.pc.addEventListener('connectionstatechange', () => {
      liveMsg.textContent = s.pc.connectionState === 'connected' ? 'Live (WebRTC, no transcoding)' : `Live video ${s.pc.connectionState}`;
    });
  }, (e) => { liveMsg.textContent = `No live video: ${e.message}`; video.hidden = true; });
  const historyBox = h('ol', { class: 'history', id: 'camera-history' });
  const adminBox = isAdmin() ? [h('div', { class: 'actions', id: 'camera-admin' },
      h('a', { href: `#/cameras/${encodeURIComponent(name)}/edit`, id: 'edit-camera' }, 'Edit'),
      h('a', { href: `#/cameras/${encodeURIComponent(name)}/zones`, id: 'edit-zones' }, 'Zones and masks'),
      h('button', { type: 'button', class: 'ghost', id: 'remove-camera', onclick: () => { confirmBox.hidden = false; } }, 'Remove…'),
      confirmBox)] : [];
  main.append(head, ...adminBox,
    err,
    h('div', { class: 'grid2' }, stateBox, h('div', {}, liveBox, snap)),
    h('h2', {}, 'Recent events ', h('a', { href: `#/events?camera=${encodeURIComponent(name)}`, class: 'muted' }, '(all)')),
    list);

  async function remove() {
    try {
      await api.removeCamera(name);
      await fleet.poll();
      location.hash = '#/';
    } catch (e) {
      err.textContent = e.message;
    }
  }

  let snapId = null;
  const setSnapshot = (ev) => {
    if (!ev?.keyframe_ref || ev.id === snapId) return;
    snapId = ev.id;
    fill(snap, h('img', { class: 'snapshot', id: 'snapshot', src: ev.keyframe_ref, alt: `latest keyframe of ${name}` }),
      h('p', { class: 'muted' }, 'Keyframe of the latest event, ', h('a', { href: `#/events/${ev.id}` }, `${ev.label} ${ago(ev.start)}`), '.'));
  };

  const draw = () => {
    const e = fleet.cameras.get(name);
    if (!e) {
      fill(stateBox, h('p', { class: 'muted' }, 'Loading…'));
      return;
    }
    const { cam } = e;
    const st = cam.state || {};
    fill(head, name, stateBadge(st), st.state === 'running' ? badge(st.gate_open ? 'gate awake' : 'gate asleep', st.gate_open ? 'awake' : 'asleep') : null);
    const prob = fleet.problem(e);
    fill(stateBox, h('dl', { class: 'kv' },
      h('dt', {}, 'State'), h('dd', {}, st.state || '–', ` since ${when(st.since)}`),
      h('dt', {}, 'Reason'), h('dd', { id: 'camera-reason' }, st.reason || prob || h('span', { class: 'muted' }, 'none')),
      h('dt', {}, 'Last frame'), h('dd', {}, st.last_frame ? ago(st.last_frame) : '–'),
      h('dt', {}, 'Frames decoded'), h('dd', {}, (st.frames_decoded ?? 0).toLocaleString(), st.state === 'running' ? ` (${e.fps.toFixed(1)} fps)` : ''),
      h('dt', {}, 'Gate'), h('dd', {}, st.gate_open ? 'awake: clips go to the model' : 'asleep: no motion, no inference',
        ` · ${Math.round((st.skip_ratio || 0) * 100)}% of frames skipped`),
      h('dt', {}, 'Reconnects'), h('dd', { id: 'camera-reconnects' }, st.reconnects ?? 0),
      h('dt', {}, 'URL'), h('dd', { class: 'mono' }, cam.url),
      h('dt', {}, 'Transport'), h('dd', {}, cam.transport, ' · decoder ', cam.hwaccel),
      h('dt', {}, 'Zone'), h('dd', {}, cam.zone || '–', cam.scene ? ` · scene ${cam.scene}` : ''),
      h('dt', {}, 'Enabled'), h('dd', {}, cam.enabled === false ? 'no' : 'yes')),
    h('h2', {}, 'Reconnect history'), historyBox);
    setSnapshot(e.lastEvent);
    loadHistory();
  };

  // The server's record of the camera's state changes (newest first here), refreshed with the fleet.
  let historyAt = 0;
  const loadHistory = async () => {
    if (performance.now() - historyAt < 1500) return;
    historyAt = performance.now();
    let st;
    try { st = await api.get(`/api/v1/cameras/${encodeURIComponent(name)}/state`); } catch { return; }
    const changes = [...(st.history || [])].reverse();
    fill(historyBox, changes.length ? changes.map((x) => h('li', {},
      h('strong', {}, `${x.from} → ${x.to}`), ` ${when(x.at)}`, x.reason ? h('span', { class: 'muted' }, ` · ${x.reason}`) : null))
      : h('li', { class: 'empty muted' }, 'No state changes yet.'));
  };

  api.events({ camera: name, limit: 20 }).then((page) => {
    for (const ev of page.events) list.append(eventItem(ev, false));
    if (!page.events.length) list.append(h('li', { class: 'empty' }, 'No events yet.'));
    setSnapshot(page.events.find((ev) => ev.keyframe_ref));
  }, (e) => { err.textContent = e.message; });

  draw();
  const offFleet = fleet.onChange(draw);
  const offLive = live.on((kind, ev) => {
    if (ev.camera !== name) return;
    const old = list.querySelector(`li[data-event="${CSS.escape(ev.id)}"]`);
    if (kind === 'update') { old?.replaceWith(eventItem(ev, false)); return; }
    if (old) return;
    list.querySelector('li.empty')?.remove();
    list.prepend(eventItem(ev, true));
    while (list.children.length > 20) list.lastChild.remove();
    setSnapshot(ev);
  });
  return () => { gone = true; session?.close(); offFleet(); offLive(); };
}

const FIELDS = ['name', 'url', 'transport', 'enabled', 'hwaccel', 'zone', 'scene', 'gate'];

/** The add (no name) and edit form. API validation messages show next to their field. */
export async function renderForm(main, { name }) {
  const editing = name !== undefined;
  let current = null;
  if (editing) {
    try {
      current = await api.camera(name);
    } catch (e) {
      main.append(h('h1', {}, `Edit ${name}`), h('p', { class: 'form-error' }, e.message));
      return null;
    }
  }
  const c = current || {};
  const field = (key, label, input, help) => h('label', { class: 'field', 'data-field': key },
    h('span', {}, label), input, help ? h('small', {}, help) : null,
    h('span', { class: 'field-error', id: `error-${key}`, 'data-error-for': key, role: 'alert' }));
  const select = (id, options, value) => {
    const s = h('select', { id, name: id }, options.map(([v, t]) => h('option', { value: v }, t)));
    s.value = value;
    return s;
  };
  const inName = h('input', { id: 'name', name: 'name', required: true, value: c.name || '', readonly: editing, autocomplete: 'off',
    pattern: '[A-Za-z0-9_-]{1,64}' });
  const inURL = h('input', { id: 'url', name: 'url', required: true, value: c.url || '', placeholder: 'rtsp://user:password@host:554/stream', autocomplete: 'off', size: 50 });
  const inTransport = select('transport', [['tcp', 'TCP'], ['udp', 'UDP'], ['auto', 'Auto']], c.transport || 'tcp');
  const inEnabled = h('input', { id: 'enabled', name: 'enabled', type: 'checkbox', checked: c.enabled !== false });
  const inHW = select('hwaccel', [['none', 'Software'], ['auto', 'Auto'], ['cuda', 'CUDA'], ['vaapi', 'VAAPI'], ['qsv', 'Quick Sync']], c.hwaccel || 'none');
  const inZone = h('input', { id: 'zone', name: 'zone', value: c.zone || '', maxlength: 64, placeholder: 'loading bay' });
  const inScene = select('scene', [['', 'Default (street)'], ['street', 'Street'], ['driveway', 'Driveway'], ['park', 'Park']], c.scene || '');
  const gateOn = c.gate?.enabled;
  const inGate = select('gate', [['', 'Inherit'], ['on', 'On'], ['off', 'Off (every clip to the model)']], gateOn === undefined ? '' : gateOn ? 'on' : 'off');
  const formErr = h('p', { class: 'form-error', id: 'form-error', role: 'alert' });
  const save = h('button', { type: 'submit', id: 'save' }, editing ? 'Save' : 'Add camera');
  const form = h('form', { class: 'camera panel', id: 'camera-form', novalidate: true },
    field('name', 'Name', inName, editing ? 'The name cannot change.' : 'Letters, digits, _ and -; used in the API, metrics and the restream path.'),
    field('url', 'RTSP URL', inURL, editing && /REDACTED/.test(c.url || '') ? 'The password is shown redacted: type it again to keep it.' : 'rtsp:// or rtsps://'),
    field('transport', 'Transport', inTransport),
    field('hwaccel', 'Decoder', inHW),
    field('zone', 'Zone', inZone, 'The place this camera watches; captions name it.'),
    field('scene', 'Scene', inScene, 'What illustrative thumbnails draw.'),
    field('gate', 'Motion gate', inGate),
    h('label', { class: 'field check', 'data-field': 'enabled' }, inEnabled, h('span', {}, 'Enabled'),
      h('span', { class: 'field-error', id: 'error-enabled', 'data-error-for': 'enabled' })),
    formErr,
    h('div', { class: 'actions' }, save,
      h('a', { href: editing ? `#/cameras/${encodeURIComponent(name)}` : '#/' }, 'Cancel')));
  main.append(h('h1', {}, editing ? `Edit ${name}` : 'Add camera'), form);

  const clear = () => {
    for (const el of form.querySelectorAll('[data-error-for]')) el.textContent = '';
    for (const el of form.querySelectorAll('.field.invalid')) el.classList.remove('invalid');
    formErr.textContent = '';
  };
  const show = (key, text) => {
    const el = form.querySelector(`[data-error-for="${key}"]`);
    el.textContent = text;
    el.closest('.field').classList.add('invalid');
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear();
    // Keep what the form does not edit (zones, masks, gate tuning); never send the state back.
    const body = { ...(current || {}) };
    delete body.state;
    Object.assign(body, { name: inName.value.trim(), url: inURL.value.trim(), transport: inTransport.value, enabled: inEnabled.checked, hwaccel: inHW.value });
    const gate = { ...(current?.gate || {}) };
    if (inGate.value === '') delete gate.enabled; else gate.enabled = inGate.value === 'on';
    body.gate = gate;
    if (inZone.value.trim()) body.zone = inZone.value.trim(); else delete body.zone;
    if (inScene.value) body.scene = inScene.value; else delete body.scene;
    if (/REDACTED/.test(body.url)) {
      show('url', 'the URL still holds a redacted value: type the password (or remove it)');
      return;
    }
    save.disabled = true;
    try {
      const saved = editing ? await api.replaceCamera(name, body) : await api.addCamera(body);
      await fleet.poll();
      location.hash = `#/cameras/${encodeURIComponent(saved.name)}`;
    } catch (err) {
      if (err.status === 409) show('name', err.message);
      else if (err.status === 400) {
        const { fields, rest } = api.fieldErrors(err.message, FIELDS);
        for (const [k, v] of Object.entries(fields)) show(k, v);
        formErr.textContent = rest.join('; ');
        form.querySelector('.field.invalid input, .field.invalid select')?.focus();
      } else formErr.textContent = err.message;
    } finally {
      save.disabled = false;
    }
  });
  (editing ? inURL : inName).focus();
  return null;
}
