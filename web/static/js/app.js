// The dashboard's entry: session check, login, the router (URL fragment) and the shared live stream.
import { h, fill } from './dom.js';
import * as api from './api.js';
import * as live from './live.js';
import * as fleet from './fleetstate.js';
import * as role from './role.js';
import { render as renderFleet } from './fleet.js';
import { renderTimeline, renderEvent } from './events.js';
import { renderCamera, renderForm } from './camera.js';
import { renderZones } from './zones.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const logoutBtn = document.getElementById('logout');
const pill = document.getElementById('live');

// Routes; those wrapped in admin() show anyone else a page saying they are an admin's.
const ROUTES = [
  [/^\/$/, 'fleet', () => renderFleet],
  [/^\/events$/, 'events', () => renderTimeline],
  [/^\/events\/([0-9a-f]+)$/, 'events', (m, p) => { p.id = m[1]; return renderEvent; }],
  [/^\/cameras\/new$/, 'new', () => admin(renderForm)],
  [/^\/cameras\/([A-Za-z0-9_-]+)\/edit$/, 'fleet', (m, p) => { p.name = m[1]; return admin(renderForm); }],
  [/^\/cameras\/([A-Za-z0-9_-]+)\/zones$/, 'fleet', (m, p) => { p.name = m[1]; return admin(renderZones); }],
  [/^\/cameras\/([A-Za-z0-9_-]+)$/, 'fleet', (m, p) => { p.name = m[1]; return renderCamera; }],
];

/** admin(view) is view for an admin, and a page saying so for anyone else. */
function admin(view) {
  if (role.isAdmin()) return view;
  return (main) => {
    main.append(h('h1', {}, 'Admins only'), h('p', { id: 'admin-only' }, 'Adding, editing and removing cameras and drawing zones and masks need an admin\'s session.'),
      h('p', {}, h('a', { href: '#/' }, 'Back to the fleet')));
    return null;
  };
}

let cleanup = null;
let signedIn = false;
let canLogout = false;

async function route() {
  if (!signedIn) return;
  cleanup?.();
  cleanup = null;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = hash.split('?');
  const params = Object.fromEntries(new URLSearchParams(qs || ''));
  main.replaceChildren();
  for (const [re, section, pick] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.nav === section);
    const view = pick(m, params);
    const token = {};
    route.current = token;
    const off = await view(main, params);
    if (route.current === token) cleanup = off || null;
    else off?.();
    document.title = `${main.querySelector('h1')?.textContent || 'mvwatch'} · mvwatch`;
    return;
  }
  main.append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the fleet')));
}

async function enter() {
  signedIn = true;
  nav.hidden = false;
  document.getElementById('nav-new').hidden = !role.isAdmin();
  logoutBtn.hidden = !canLogout;
  live.start(pill);
  await fleet.start();
  await route();
}

function leave() {
  signedIn = false;
  cleanup?.();
  cleanup = null;
  live.stop();
  fleet.stop();
  nav.hidden = true;
  logoutBtn.hidden = true;
  pill.hidden = true;
  showLogin();
}

function showLogin(message) {
  const token = h('input', { type: 'password', id: 'token', name: 'token', required: true, autocomplete: 'current-password', autofocus: true });
  const err = h('p', { class: 'form-error', id: 'login-error', role: 'alert' }, message || '');
  const form = h('form', { class: 'login panel', id: 'login' },
    h('h1', {}, 'Sign in'),
    h('label', { class: 'field' }, h('span', {}, 'API token'), token,
      h('small', {}, 'The token is exchanged for a session cookie; the page never stores it.')),
    err, h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      role.set(await api.login(token.value));
      token.value = '';
      canLogout = true;
      await enter();
    } catch (x) {
      err.textContent = x.status === 401 ? 'Wrong token.' : x.message;
      token.select();
    }
  });
  fill(main, form);
  document.title = 'Sign in · mvwatch';
  token.focus();
}

logoutBtn.addEventListener('click', async () => {
  try { await api.logout(); } catch { /* the cookie is cleared anyway on the next 401 */ }
  leave();
});
window.addEventListener(api.UNAUTHORIZED, () => { if (signedIn) { leave(); } });
window.addEventListener('hashchange', route);

(async () => {
  try {
    const s = await api.session();
    canLogout = s.auth_required;
    role.set(s);
    if (s.authenticated) await enter();
    else showLogin();
  } catch (e) {
    fill(main, h('p', { class: 'form-error' }, `mvwatch is not reachable: ${e.message}`));
  }
})();
