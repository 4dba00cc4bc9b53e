/**
 * The pages' inline scripts (plain browser JavaScript, no build step). They never put API data
 * into innerHTML: every value goes through textContent.
 */

/** Shared: redeem the launch ticket (#lti_ticket=…) for a bearer session, call the API with it. */
export const SESSION_JS = `
'use strict';
const DATA = JSON.parse(document.getElementById('rb-data').textContent);
let BEARER = null;
function say(msg, error) {
  const s = document.getElementById('status');
  s.textContent = msg;
  s.className = error ? 'error' : '';
}
// Cookie-blocked third-party iframes often block sessionStorage too: keep the bearer in memory and
// use storage only where the browser allows it.
function storage() { try { return window.sessionStorage; } catch (e) { return null; } }
function remember(key, value) { try { const s = storage(); if (s) value === null ? s.removeItem(key) : s.setItem(key, value); } catch (e) { /* blocked */ } }
function recall(key) { try { const s = storage(); return s ? s.getItem(key) : null; } catch (e) { return null; } }
async function signIn() {
  // The platform storage flow hands over the session itself (#rb_session=…); the cookie flow a
  // one-time ticket (#lti_ticket=…) that is redeemed here once and then removed from the address.
  const direct = /rb_session=([^&]+)/.exec(location.hash);
  if (direct) {
    const token = decodeURIComponent(direct[1]);
    remember('rb_bearer', token);
    return token;
  }
  const m = /lti_ticket=([^&]+)/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', location.pathname + location.search);
    const r = await fetch('/lti/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' },
      body: JSON.stringify({ ticket: decodeURIComponent(m[1]) }),
    });
    if (!r.ok) throw new Error('Your sign-in link has expired or was used already; open the tool from your course again.');
    const token = (await r.json()).token;
    remember('rb_bearer', token);
    return token;
  }
  return recall('rb_bearer');
}
async function api(method, path, body) {
  const headers = { authorization: 'Bearer ' + BEARER };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch('/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return { status: r.status, ok: r.ok, body: json };
}
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const tags = (list, cls) => el('td', {}, ...list.map((x) => el('span', { class: 'tag ' + cls, text: x })));
const nameOf = (p) => p.displayName || p.userName || p.primaryEmail || p.email || p.externalId || p.id;
const problem = (r) => (r.body && (r.body.detail || r.body.title)) || 'HTTP ' + r.status;
`;

export const COURSE_ADMIN_JS = `
(async () => {
  try { BEARER = await signIn(); } catch (e) { say(e.message, true); return; }
  if (!BEARER) { document.getElementById('who').textContent = ''; say('Open this tool from your course to sign in.', true); return; }
  const course = DATA.courseId;
  const me = await api('GET', '/me');
  document.getElementById('who').textContent = me.ok && me.body.person ? 'Signed in as ' + nameOf(me.body.person) : '';
  const c = await api('GET', '/courses/' + encodeURIComponent(course));
  if (c.ok) document.getElementById('course-title').textContent = c.body.title;
  const cat = await api('GET', '/privileges');
  const keys = cat.ok ? cat.body.items.map((i) => i.key) : [];
  for (const id of ['grant-allow', 'grant-deny', 'cantfind-allow', 'cantfind-deny']) {
    const box = document.getElementById(id);
    for (const k of keys) box.append(el('label', {}, el('input', { type: 'checkbox', value: k, name: id + '-' + k }), ' ' + k));
  }
  const checked = (id) => [...document.querySelectorAll('#' + id + ' input:checked')].map((i) => i.value);
  const setChecked = (id, list) => document.querySelectorAll('#' + id + ' input').forEach((i) => (i.checked = list.includes(i.value)));
  const current = new Map();
  function pick(ref, lists) {
    document.getElementById('grant-person').value = ref;
    setChecked('grant-allow', (lists && lists.allow) || []);
    setChecked('grant-deny', (lists && lists.deny) || []);
    document.getElementById('grant-person').focus();
  }
  async function load() {
    const r = await api('GET', '/courses/' + encodeURIComponent(course) + '/privileges?limit=500');
    const tbody = document.querySelector('#people tbody');
    tbody.replaceChildren();
    if (!r.ok) { tbody.append(el('tr', {}, el('td', { colspan: '7', class: 'error', text: problem(r) }))); return; }
    if (!r.body.items.length) tbody.append(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: 'Nobody has roles or privileges in this course yet.' })));
    for (const it of r.body.items) {
      current.set(it.person.id, it);
      tbody.append(el('tr', { 'data-person': it.person.id },
        el('td', {}, el('div', { text: nameOf(it.person) }), el('div', { class: 'muted', text: it.person.primaryEmail || it.person.externalId || '' })),
        el('td', {}, el('span', { class: 'tag status-' + it.person.status, text: it.person.status })),
        tags(it.roles.map((x) => x.replace(/^.*#/, '')), ''),
        tags(it.allow, 'allow'), tags(it.deny, 'deny'), tags(it.effective, 'eff'),
        el('td', {}, el('button', { type: 'button', text: 'Edit', onclick: () => pick(it.person.id, it) }))));
    }
  }
  async function save(ref, allow, deny, label) {
    say('Saving…');
    const r = await api('PUT', '/courses/' + encodeURIComponent(course) + '/privileges/' + encodeURIComponent(ref), { allow, deny });
    if (r.status === 201) say(label + ' was not here yet: the grant is kept for them' + (ref.startsWith('email:') ? ' and an invitation is on its way' : '') + '. It takes effect when they first open the tool.');
    else if (r.ok) say('Saved for ' + nameOf(r.body.person) + '.');
    else if (r.status === 409 && r.body && r.body.candidates) say(problem(r) + ': ' + r.body.candidates.map((p) => nameOf(p) + ' (' + (p.primaryEmail || p.userName || p.id) + ')').join(', '), true);
    else say(problem(r), true);
    if (r.ok) await load();
    return r.ok;
  }
  document.getElementById('search-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = document.getElementById('search').value.trim();
    const ul = document.getElementById('results');
    ul.replaceChildren();
    const r = await api('GET', '/people?limit=20&q=' + encodeURIComponent(q));
    if (!r.ok) { say(problem(r), true); return; }
    if (!r.body.items.length) ul.append(el('li', { class: 'muted', text: 'Nobody found. Use "Can\\u2019t find the person you\\u2019re looking for?" below.' }));
    for (const p of r.body.items) {
      ul.append(el('li', {}, nameOf(p) + ' ', el('span', { class: 'muted', text: (p.email || p.userName || '') + ' · ' + p.status + ' ' }),
        el('button', { type: 'button', text: 'Select', onclick: () => pick(p.id, current.get(p.id)) })));
    }
  });
  document.getElementById('grant-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const ref = document.getElementById('grant-person').value.trim();
    await save(ref, checked('grant-allow'), checked('grant-deny'), ref);
  });
  document.getElementById('cantfind-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = document.getElementById('cantfind-ref').value.trim();
    const ref = v.includes('@') ? 'email:' + v : 'key:' + v;
    if (await save(ref, checked('cantfind-allow'), checked('cantfind-deny'), v)) ev.target.reset();
  });
  await load();
  say('');
})();
`;

export const WELCOME_JS = `
(async () => {
  try { BEARER = await signIn(); } catch (e) { say(e.message, true); }
  if (DATA.invitation) remember('rb_invitation', DATA.invitation);
  if (!BEARER) { document.getElementById('signin-help').hidden = false; return; }
  async function show() {
    const me = await api('GET', '/me');
    if (!me.ok) { say(problem(me), true); return; }
    document.getElementById('welcome').textContent = 'Welcome, ' + nameOf(me.body.person);
    const ul = document.getElementById('privileges');
    ul.replaceChildren(...(me.body.effective.length ? me.body.effective.map((p) => el('li', { text: p })) : [el('li', { class: 'muted', text: 'Nothing yet.' })]));
    document.getElementById('mine').hidden = false;
  }
  await show();
  const token = DATA.invitation || recall('rb_invitation');
  if (token) {
    document.getElementById('invite').hidden = false;
    document.getElementById('accept').addEventListener('click', async () => {
      const r = await api('POST', '/invitations/accept', { token });
      remember('rb_invitation', null);
      document.getElementById('invite').hidden = true;
      if (r.ok) { say('Invitation accepted.'); await show(); } else say(problem(r), true);
    });
  }
})();
`;
