// Small DOM helpers: elements are built with textContent only, so API data is never parsed as HTML.

/** h('a', {href: '#/', class: 'x'}, 'text', child) builds an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM, which the Content-Security-Policy allows
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 min ago" for a date string or Date. */
export function ago(t) {
  if (!t) return '–';
  const s = (new Date(t).getTime() - Date.now()) / 1000;
  const a = Math.abs(s);
  if (a < 45) return rtf.format(Math.round(s), 'second');
  if (a < 2700) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 64800) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

/** Local date and time with seconds. */
export function when(t) {
  if (!t) return '–';
  return new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function badge(text, cls) {
  return h('span', { class: `badge ${cls || ''}` }, text);
}

export function stateBadge(state) {
  const s = state?.state || 'unknown';
  return badge(s, `state-${s}`);
}

export function scoreBar(score) {
  const pct = Math.round((score || 0) * 100);
  return h('span', { title: `score ${pct}%` }, h('span', { class: 'score' }, h('i', { style: `width:${pct}%` })), ` ${pct}%`);
}

/** The short form of a duration in seconds. */
export function seconds(s) {
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(1)} s`;
}
