import { Api, el, nameOf, pageData, problemText, SignInError, signIn, type PersonRef } from './session.js';

/** The course admin page (interim port of the previous inline script; replaced by the full page). */
interface Data {
  courseId: string;
}
interface Row {
  person: PersonRef & { status: string };
  roles: string[];
  allow: string[];
  deny: string[];
  effective: string[];
}

const data = pageData<Data>();
const $ = (id: string) => document.getElementById(id)!;
const say = (msg: string, error = false) => {
  $('status').textContent = msg;
  $('status').className = error ? 'error' : '';
};
const tags = (list: string[], cls: string) =>
  el('td', {}, ...list.map((x) => el('span', { class: `tag ${cls}`, text: x })));

async function main() {
  let bearer: string | null;
  try {
    bearer = await signIn();
  } catch (e) {
    say(e instanceof SignInError ? e.message : 'Signing in failed.', true);
    return;
  }
  if (!bearer) {
    $('who').textContent = '';
    say('Open this tool from your course to sign in.', true);
    return;
  }
  const api = new Api(bearer);
  const course = encodeURIComponent(data.courseId);
  const me = await api.get<{ person: PersonRef | null }>('/me');
  $('who').textContent = me.ok && me.body?.person ? `Signed in as ${nameOf(me.body.person)}` : '';
  const c = await api.get<{ title: string }>(`/courses/${course}`);
  if (c.ok && c.body) $('course-title').textContent = c.body.title;
  const cat = await api.get<{ items: Array<{ key: string }> }>('/privileges');
  const keys = cat.ok && cat.body ? cat.body.items.map((i) => i.key) : [];
  for (const id of ['grant-allow', 'grant-deny', 'cantfind-allow', 'cantfind-deny']) {
    for (const k of keys)
      $(id).append(el('label', {}, el('input', { type: 'checkbox', value: k, name: `${id}-${k}` }), ` ${k}`));
  }
  const checked = (id: string) =>
    [...document.querySelectorAll<HTMLInputElement>(`#${id} input:checked`)].map((i) => i.value);
  const setChecked = (id: string, list: string[]) => {
    for (const i of document.querySelectorAll<HTMLInputElement>(`#${id} input`)) i.checked = list.includes(i.value);
  };
  const current = new Map<string, Row>();
  function pick(ref: string, lists?: Row) {
    ($('grant-person') as HTMLInputElement).value = ref;
    setChecked('grant-allow', lists?.allow ?? []);
    setChecked('grant-deny', lists?.deny ?? []);
    $('grant-person').focus();
  }
  async function load() {
    const r = await api.get<{ items: Row[] }>(`/courses/${course}/privileges?limit=500`);
    const tbody = document.querySelector('#people tbody')!;
    tbody.replaceChildren();
    if (!r.ok || !r.body) {
      tbody.append(el('tr', {}, el('td', { colspan: '7', class: 'error', text: problemText(r) })));
      return;
    }
    if (!r.body.items.length)
      tbody.append(
        el(
          'tr',
          {},
          el('td', { colspan: '7', class: 'muted', text: 'Nobody has roles or privileges in this course yet.' }),
        ),
      );
    for (const it of r.body.items) {
      current.set(it.person.id, it);
      tbody.append(
        el(
          'tr',
          { 'data-person': it.person.id },
          el(
            'td',
            {},
            el('div', { text: nameOf(it.person) }),
            el('div', { class: 'muted', text: it.person.primaryEmail || it.person.externalId || '' }),
          ),
          el('td', {}, el('span', { class: `tag status-${it.person.status}`, text: it.person.status })),
          tags(
            it.roles.map((x) => x.replace(/^.*#/, '')),
            '',
          ),
          tags(it.allow, 'allow'),
          tags(it.deny, 'deny'),
          tags(it.effective, 'eff'),
          el('td', {}, el('button', { type: 'button', text: 'Edit', onclick: () => pick(it.person.id, it) })),
        ),
      );
    }
  }
  async function save(ref: string, allow: string[], deny: string[], label: string) {
    say('Saving…');
    const r = await api.call<Row & { candidates?: PersonRef[] }>(
      'PUT',
      `/courses/${course}/privileges/${encodeURIComponent(ref)}`,
      { allow, deny },
    );
    if (r.status === 201)
      say(
        `${label} was not here yet: the grant is kept for them${ref.startsWith('email:') ? ' and an invitation is on its way' : ''}. It takes effect when they first open the tool.`,
      );
    else if (r.ok && r.body) say(`Saved for ${nameOf(r.body.person)}.`);
    else if (r.status === 409 && r.body?.candidates)
      say(
        `${problemText(r)}: ${r.body.candidates.map((p) => `${nameOf(p)} (${p.primaryEmail || p.userName || ''})`).join(', ')}`,
        true,
      );
    else say(problemText(r), true);
    if (r.ok) await load();
    return r.ok;
  }
  $('search-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = ($('search') as HTMLInputElement).value.trim();
    const ul = $('results');
    ul.replaceChildren();
    const r = await api.get<{ items: PersonRef[] }>(`/people?limit=20&q=${encodeURIComponent(q)}`);
    if (!r.ok || !r.body) {
      say(problemText(r), true);
      return;
    }
    if (!r.body.items.length)
      ul.append(
        el('li', { class: 'muted', text: 'Nobody found. Use "Can’t find the person you’re looking for?" below.' }),
      );
    for (const p of r.body.items) {
      ul.append(
        el(
          'li',
          {},
          `${nameOf(p)} `,
          el('span', { class: 'muted', text: `${p.email || p.userName || ''} · ${p.status} ` }),
          el('button', { type: 'button', text: 'Select', onclick: () => pick(p.id, current.get(p.id)) }),
        ),
      );
    }
  });
  $('grant-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const ref = ($('grant-person') as HTMLInputElement).value.trim();
    await save(ref, checked('grant-allow'), checked('grant-deny'), ref);
  });
  $('cantfind-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = ($('cantfind-ref') as HTMLInputElement).value.trim();
    const ref = v.includes('@') ? `email:${v}` : `key:${v}`;
    if (await save(ref, checked('cantfind-allow'), checked('cantfind-deny'), v)) (ev.target as HTMLFormElement).reset();
  });
  await load();
  say('');
}

void main();
