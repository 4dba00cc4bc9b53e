import { forbiddenWords, type Refusal, UNAUTHENTICATED } from './access-words.js';
import { readRoster, RosterFormatError, type RosterRow } from './roster-csv.js';
import { Api, type ApiResult, el, pageData, type PersonRef, problemText, SignInError, signIn } from './session.js';

/**
 * The course admin page (/app/courses/<id>): the course's people with one allow / deny / inherit
 * control per privilege, saved at once; the effective result with its reason; search over the
 * school's people with "Can't find the person you're looking for?"; bulk upload; invitations;
 * history. Every value reaches the page through textContent or attributes, never as markup.
 */

interface Data {
  courseId: string;
  cookie?: boolean;
}
interface Access {
  course: { id: string; title: string };
  level: 'manage' | 'view' | 'none';
  missing: string[];
  privileges: string[];
  you: string;
  managers: string[];
}
interface CatalogueEntry {
  key: string;
  description: string;
}
interface Why {
  source: 'role' | 'group' | 'grant' | 'status';
  effect: 'allow' | 'deny';
  role?: string;
  groupName?: string;
  status?: string;
}
interface Decision {
  privilege: string;
  allowed: boolean;
  why: Why[];
  /** held back by status: what it becomes once the person holds their grants */
  whenActive?: boolean;
}
interface Person extends PersonRef {
  status: string;
}
interface CourseRow {
  person: Person;
  roles: string[];
  allow: string[];
  deny: string[];
  effective: string[];
  decisions: Decision[];
}
interface Saved {
  person: Person;
  created: boolean;
  allow: string[];
  deny: string[];
  effective: string[];
}
interface BulkRowResult {
  row: number;
  ref: string | null;
  status: 'created' | 'updated' | 'unchanged' | 'pending' | 'duplicate' | 'conflict' | 'invalid';
  error?: string;
}
interface HistoryItem {
  id: number;
  at: string;
  text: string;
}

type Setting = 'inherit' | 'allow' | 'deny';

const data = pageData<Data>();
const course = encodeURIComponent(data.courseId);
const $ = (id: string) => document.getElementById(id) as HTMLElement;
let catalogue: CatalogueEntry[] = [];
let api: Api;
let canManage = false;
let uid = 0;
const nextId = (prefix: string) => `${prefix}-${++uid}`;

/* --- words --- */

const label = (key: string) => catalogue.find((c) => c.key === key)?.description || key;
const displayName = (p: PersonRef) => p.displayName || p.primaryEmail || p.email || p.userName || p.externalId || '';
/** What the person is known by besides their name: email, else school id. */
const handleOf = (p: PersonRef) => p.primaryEmail || p.email || p.externalId || p.userName || '';

function statusWords(status: string): { text: string; cls: string; hint: string } {
  if (status === 'active') return { text: 'active', cls: 'active', hint: 'Has signed in from the course' };
  // The school's IdP vouches for them: their privileges hold now, before their first sign-in.
  if (status === 'provisioned')
    return {
      text: 'active',
      cls: 'active',
      hint: 'Added by your school; privileges apply now, though they have not opened the tool from a course yet',
    };
  if (status === 'invited')
    return {
      text: 'waiting for first sign-in',
      cls: 'waiting',
      hint: 'Added here before they signed in; privileges apply from their first sign-in',
    };
  return { text: 'suspended', cls: 'suspended', hint: 'Your school suspended or removed this account' };
}

function whyWords(d: Decision | undefined): string {
  if (!d?.why.length) return 'Not allowed: no role, group or grant of theirs gives it.';
  const parts = d.why.map((w) => {
    const verb = w.effect === 'allow' ? 'allowed' : 'denied';
    if (w.source === 'role') return `${verb} by the role ${String(w.role ?? '').replace(/^.*#/, '')}`;
    if (w.source === 'group') return `${verb} by the group ${w.groupName ?? ''}`.trim();
    if (w.source === 'grant') return `${verb} by their own setting in this course`;
    return w.status === 'invited' || w.status === 'provisioned'
      ? 'held back until their first sign-in'
      : 'held back while their account is suspended';
  });
  const head = d.allowed ? 'Allowed' : 'Not allowed';
  return `${head}: ${parts.join('; ')}.`;
}

/* --- notices --- */

function notify(message: string, kind: 'ok' | 'error' | 'info' = 'info') {
  const n = $('notice');
  n.replaceChildren(el('p', { class: `notice ${kind}`, text: message }));
  n.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

/* --- access and refusals --- */

function showRefusal(kind: 'unauthenticated' | 'forbidden', words: Refusal) {
  $('app').replaceChildren(
    el(
      'section',
      { class: 'refusal', id: 'refusal', 'data-refusal': kind, 'aria-labelledby': 'refusal-h' },
      el('h2', { id: 'refusal-h', text: words.title }),
      ...words.lines.map((l) => el('p', { text: l })),
    ),
  );
}

async function bearer(): Promise<string | null> {
  const fromLaunch = await signIn();
  if (fromLaunch) return fromLaunch;
  if (!data.cookie) return null;
  // The page was served to the session cookie: swap it for a bearer token (same origin only).
  const r = await fetch('/app/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-rb-session': '1' },
    body: '{}',
  });
  return r.ok ? ((await r.json()) as { token: string }).token : null;
}

/* --- the people table --- */

function settingOf(row: { allow: string[]; deny: string[] }, key: string): Setting {
  return row.allow.includes(key) ? 'allow' : row.deny.includes(key) ? 'deny' : 'inherit';
}

/** One allow / deny / inherit control, labelled with the privilege and the person. */
function settingSelect(key: string, who: string, value: Setting): HTMLSelectElement {
  const s = el(
    'select',
    { 'aria-label': `${label(key)} for ${who}`, 'data-privilege': key },
    el('option', { value: 'inherit', text: 'Inherit' }),
    el('option', { value: 'allow', text: 'Allow' }),
    el('option', { value: 'deny', text: 'Deny' }),
  );
  s.value = value;
  return s;
}

function effectiveBadge(key: string, d: Decision | undefined): HTMLElement {
  const tipId = nextId('why');
  const allowed = Boolean(d?.allowed);
  // A waiting person's grant is the point of the page: say it will hold, not "not allowed".
  const waiting = !allowed && d?.whenActive === true && d.why[0]?.status === 'invited';
  return el(
    'span',
    {
      class: `eff ${allowed ? 'yes' : waiting ? 'wait' : 'no'}`,
      tabindex: '0',
      'aria-describedby': tipId,
      'data-effective': allowed ? 'allowed' : waiting ? 'from first sign-in' : 'denied',
      'data-privilege': key,
    },
    allowed ? '✓ allowed' : waiting ? '◷ from first sign-in' : '✗ not allowed',
    el('span', { class: 'tip', id: tipId, role: 'tooltip', text: whyWords(d) }),
  );
}

class PersonRowView {
  readonly tr: HTMLTableRowElement;
  private row: CourseRow;

  constructor(row: CourseRow) {
    this.row = row;
    this.tr = el('tr', { 'data-person-name': displayName(row.person) });
    this.draw();
  }

  private draw() {
    const p = this.row.person;
    const st = statusWords(p.status);
    const name = displayName(p);
    const cells: HTMLElement[] = [
      el(
        'th',
        { scope: 'row', class: 'who' },
        el('div', { text: name }),
        p.displayName && handleOf(p) ? el('div', { class: 'sub', text: handleOf(p) }) : null,
      ),
      el('td', {}, el('span', { class: `badge ${st.cls}`, title: st.hint, 'data-status': st.text, text: st.text })),
    ];
    for (const c of catalogue) {
      const d = this.row.decisions.find((x) => x.privilege === c.key);
      const td = el('td', { class: 'cell' });
      if (canManage) {
        const s = settingSelect(c.key, name, settingOf(this.row, c.key));
        s.addEventListener('change', () => void this.change(c.key, s, td));
        td.append(s, el('br'));
      } else {
        const setting = settingOf(this.row, c.key);
        if (setting !== 'inherit')
          td.append(el('span', { class: 'muted', text: setting === 'allow' ? 'Allow' : 'Deny' }), el('br'));
      }
      td.append(effectiveBadge(c.key, d));
      cells.push(td);
    }
    const actions = el('td', { class: 'row-actions' });
    if (canManage && p.status === 'invited' && (p.primaryEmail || p.email)) {
      actions.append(
        el('button', {
          type: 'button',
          text: 'Resend invitation',
          'aria-label': `Resend invitation to ${name}`,
          onclick: () => void this.invite(),
        }),
      );
    }
    cells.push(actions);
    this.tr.replaceChildren(...cells);
  }

  /** Optimistic: the control shows the new setting at once; a refusal puts it back and says why. */
  private async change(key: string, select: HTMLSelectElement, td: HTMLElement) {
    const before = settingOf(this.row, key);
    const next = select.value as Setting;
    const allow = this.row.allow.filter((k) => k !== key);
    const deny = this.row.deny.filter((k) => k !== key);
    if (next === 'allow') allow.push(key);
    if (next === 'deny') deny.push(key);
    td.classList.add('saving');
    const r = await api.call<Saved>('PUT', `/courses/${course}/privileges/${encodeURIComponent(this.row.person.id)}`, {
      allow,
      deny,
    });
    td.classList.remove('saving');
    const name = displayName(this.row.person);
    if (!r.ok || !r.body) {
      select.value = before;
      notify(`Not saved for ${name}: ${problemText(r)} The setting is back to “${before}”.`, 'error');
      return;
    }
    await this.refresh();
    notify(`Saved: ${label(key)} is now “${next}” for ${name}.`, 'ok');
    void loadHistory();
  }

  /** Re-reads the person's decisions and redraws the effective results, keeping keyboard focus. */
  async refresh() {
    const r = await api.get<CourseRow>(`/courses/${course}/privileges/${encodeURIComponent(this.row.person.id)}`);
    if (!r.ok || !r.body) return;
    this.row = { ...this.row, ...r.body, roles: this.row.roles };
    for (const c of catalogue) {
      const old = this.tr.querySelector<HTMLElement>(`.eff[data-privilege="${c.key}"]`);
      old?.replaceWith(
        effectiveBadge(
          c.key,
          this.row.decisions.find((x) => x.privilege === c.key),
        ),
      );
    }
  }

  private async invite() {
    const r = await api.call<{ email: string; sentCount: number }>(
      'POST',
      `/courses/${course}/people/${encodeURIComponent(this.row.person.id)}/invitation`,
    );
    if (r.ok && r.body)
      notify(
        `Invitation sent to ${r.body.email}${r.body.sentCount > 1 ? ` (${r.body.sentCount} times so far)` : ''}.`,
        'ok',
      );
    else notify(`The invitation was not sent: ${problemText(r)}`, 'error');
    void loadHistory();
  }
}

const rows = new Map<string, PersonRowView>();

async function loadPeople() {
  const all: CourseRow[] = [];
  let after = '';
  for (;;) {
    const r = await api.get<{ items: CourseRow[]; next: string | null }>(
      `/courses/${course}/privileges?limit=500${after ? `&after=${after}` : ''}`,
    );
    if (!r.ok || !r.body) {
      notify(`The course’s people could not be loaded: ${problemText(r)}`, 'error');
      return;
    }
    all.push(...r.body.items);
    if (!r.body.next) break;
    after = r.body.next;
  }
  // people who are here first, then those still to sign in, then suspended; by name within each
  const rank = (p: Person) => ['active', 'waiting', 'suspended'].indexOf(statusWords(p.status).cls);
  all.sort((a, b) => rank(a.person) - rank(b.person) || displayName(a.person).localeCompare(displayName(b.person)));
  const tbody = $('people-body');
  rows.clear();
  const trs = all.map((row) => {
    const view = new PersonRowView(row);
    rows.set(row.person.id, view);
    return view.tr;
  });
  if (!trs.length)
    trs.push(
      el(
        'tr',
        {},
        el('td', { colspan: String(catalogue.length + 3), class: 'muted', text: 'Nobody is in this course yet.' }),
      ),
    );
  tbody.replaceChildren(...trs);
}

function peopleSection(): HTMLElement {
  return el(
    'section',
    { 'aria-labelledby': 'people-h' },
    el('h2', { id: 'people-h', text: 'People and their privileges' }),
    el('p', {
      class: 'muted',
      text: canManage
        ? 'Each control saves as soon as you change it. “Inherit” leaves it to their role and groups. Hover over or tab to a result to see why.'
        : 'You can see this course’s privileges but not change them. Hover over or tab to a result to see why.',
    }),
    el(
      'div',
      { class: 'scroll' },
      el(
        'table',
        { id: 'people' },
        el('caption', { class: 'visually-hidden', text: 'People in this course and their privileges' }),
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col', text: 'Person' }),
            el('th', { scope: 'col', text: 'Status' }),
            ...catalogue.map((c) =>
              el(
                'th',
                { scope: 'col', class: 'priv', 'data-key': c.key },
                el('abbr', { title: c.key, text: label(c.key) }),
              ),
            ),
            el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'Actions' })),
          ),
        ),
        el('tbody', { id: 'people-body' }),
      ),
    ),
  );
}

/* --- search, and "Can't find the person you're looking for?" --- */

/** The privilege controls of the search results and the banner: one select per privilege. */
function controlSet(who: string, values?: { allow: string[]; deny: string[] }): HTMLElement {
  return el(
    'div',
    { class: 'controls' },
    ...catalogue.map((c) => {
      const id = nextId('ctl');
      const s = settingSelect(c.key, who, values ? settingOf(values, c.key) : 'inherit');
      s.id = id;
      s.removeAttribute('aria-label');
      return el('div', { class: 'ctl' }, el('label', { for: id, text: label(c.key) }), s);
    }),
  );
}
const readControls = (box: HTMLElement) => {
  const allow: string[] = [];
  const deny: string[] = [];
  for (const s of box.querySelectorAll<HTMLSelectElement>('select[data-privilege]')) {
    if (s.value === 'allow') allow.push(s.dataset.privilege!);
    if (s.value === 'deny') deny.push(s.dataset.privilege!);
  }
  return { allow, deny };
};

async function saveFor(ref: string, lists: { allow: string[]; deny: string[] }, where: HTMLElement, typed: string) {
  const r = await api.call<Saved & { candidates?: Person[] }>(
    'PUT',
    `/courses/${course}/privileges/${encodeURIComponent(ref)}`,
    lists,
  );
  if (r.status === 409 && r.body?.candidates?.length) {
    showCandidates(r.body.candidates, lists, where, typed);
    notify(`Several people share ${typed}. Pick the right one below.`, 'info');
    return false;
  }
  if (!r.ok || !r.body) {
    notify(`Not saved: ${problemText(r)}`, 'error');
    return false;
  }
  const who = displayName(r.body.person) || typed;
  notify(
    r.body.created
      ? `${who} is not here yet: their privileges are kept and apply from their first sign-in${ref.startsWith('email:') ? '; an invitation is on its way' : ''}.`
      : `Saved for ${who}.`,
    'ok',
  );
  await loadPeople();
  void loadHistory();
  return true;
}

function showCandidates(
  candidates: Person[],
  lists: { allow: string[]; deny: string[] },
  where: HTMLElement,
  typed: string,
) {
  where.querySelector('.candidates')?.remove();
  const box = el(
    'div',
    { class: 'candidates notice', role: 'group', 'aria-labelledby': 'cand-h' },
    el('h3', { id: 'cand-h', text: `${candidates.length} people share ${typed}. Who did you mean?` }),
    el(
      'ul',
      {},
      ...candidates.map((p) =>
        el(
          'li',
          {},
          el('button', {
            type: 'button',
            text: `${displayName(p)}${p.externalId ? ` (school id ${p.externalId})` : p.userName ? ` (${p.userName})` : ''}`,
            onclick: async () => {
              if (await saveFor(p.id, lists, where, typed)) box.remove();
            },
          }),
        ),
      ),
    ),
  );
  where.append(box);
  box.querySelector('button')?.focus();
}

function cantFindBanner(typed: string): HTMLElement {
  const refId = nextId('ref');
  const box = el('section', { class: 'banner', id: 'cantfind', 'aria-labelledby': 'cantfind-h' });
  const controls = controlSet(typed || 'this person');
  const input = el('input', {
    type: 'text',
    id: refId,
    name: 'ref',
    value: typed,
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'cantfind-help',
  });
  const form = el(
    'form',
    {},
    el('p', {}, el('label', { for: refId, text: 'Email or school id ' }), input),
    controls,
    el('button', { type: 'submit', class: 'primary', text: 'Save for this person' }),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (!v) {
      notify('Type their email or school id first.', 'error');
      input.focus();
      return;
    }
    const ref = v.includes('@') ? `email:${v}` : `key:${v}`;
    if (await saveFor(ref, readControls(controls), box, v)) {
      box.remove();
      ($('search') as HTMLInputElement).focus();
    }
  });
  box.append(
    el('h3', { id: 'cantfind-h', text: 'Can’t find the person you’re looking for?' }),
    el('p', {
      id: 'cantfind-help',
      class: 'muted',
      text: 'Nobody at your school matches. Give their email or school id and choose their privileges: we keep them until they first sign in (an email address also gets an invitation).',
    }),
    form,
  );
  return box;
}

async function search(q: string) {
  const out = $('search-results');
  out.replaceChildren(el('p', { class: 'muted', text: 'Searching…' }));
  const r = await api.get<{ items: Person[] }>(`/people?limit=20&q=${encodeURIComponent(q)}`);
  if (!r.ok || !r.body) {
    out.replaceChildren();
    notify(`Search failed: ${problemText(r)}`, 'error');
    return;
  }
  if (!r.body.items.length) {
    out.replaceChildren(cantFindBanner(q));
    out.querySelector('input')?.focus();
    return;
  }
  const list = el('ul', { class: 'found', 'aria-label': 'People found' });
  for (const p of r.body.items) {
    const inCourse = rows.has(p.id);
    const st = statusWords(p.status);
    const controls = controlSet(displayName(p));
    const li = el(
      'li',
      { class: 'panel' },
      el('strong', { text: displayName(p) }),
      ' ',
      el('span', { class: 'muted', text: handleOf(p) }),
      ' ',
      el('span', { class: `badge ${st.cls}`, text: st.text }),
      inCourse ? el('span', { class: 'muted', text: ' · already in this course (change them in the table)' }) : null,
    );
    if (!inCourse) {
      const save = el('button', {
        type: 'button',
        class: 'primary',
        text: `Add ${displayName(p)} to this course`,
      });
      save.addEventListener('click', async () => {
        if (await saveFor(p.id, readControls(controls), li, displayName(p))) li.remove();
      });
      li.append(controls, save);
    }
    list.append(li);
  }
  out.replaceChildren(list);
}

function searchSection(): HTMLElement {
  const form = el(
    'form',
    { role: 'search', class: 'search-row' },
    el(
      'label',
      { for: 'search' },
      'Find someone at your school',
      el('input', {
        type: 'search',
        id: 'search',
        name: 'q',
        autocomplete: 'off',
        placeholder: 'Name, email or school id',
      }),
    ),
    el('button', { type: 'submit', text: 'Search' }),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = ($('search') as HTMLInputElement).value.trim();
    if (q) void search(q);
  });
  return el(
    'section',
    { 'aria-labelledby': 'add-h' },
    el('h2', { id: 'add-h', text: 'Add someone' }),
    form,
    el('div', { id: 'search-results' }),
  );
}

/* --- bulk upload --- */

const RESULT_WORDS: Record<BulkRowResult['status'], string> = {
  created: 'added',
  updated: 'updated',
  unchanged: 'unchanged',
  pending: 'added — waiting for first sign-in',
  duplicate: 'skipped',
  conflict: 'error',
  invalid: 'error',
};

const CHUNK = 50;

async function importRoster(text: string) {
  const role = ($('bulk-role') as HTMLSelectElement).value;
  let parsed: ReturnType<typeof readRoster>;
  try {
    parsed = readRoster(text, role);
  } catch (err) {
    notify(err instanceof RosterFormatError ? err.message : 'The list could not be read.', 'error');
    return;
  }
  if (!parsed.rows.length) {
    notify('There is nobody in that list.', 'error');
    return;
  }
  const bar = $('bulk-progress') as HTMLProgressElement;
  const barLabel = $('bulk-progress-label');
  const tbody = $('bulk-body');
  $('bulk-out').hidden = false;
  tbody.replaceChildren();
  bar.max = parsed.rows.length;
  bar.value = 0;
  const counts: Record<string, number> = {};
  const button = $('bulk-go') as HTMLButtonElement;
  button.disabled = true;
  for (let start = 0; start < parsed.rows.length; start += CHUNK) {
    const chunk: RosterRow[] = parsed.rows.slice(start, start + CHUNK);
    const r: ApiResult<{ results: BulkRowResult[] }> = await api.call('POST', `/courses/${course}/enrolments`, {
      rows: chunk,
    });
    const results: BulkRowResult[] =
      r.body && Array.isArray(r.body.results)
        ? r.body.results
        : chunk.map((_, i) => ({ row: i, ref: null, status: 'invalid' as const, error: problemText(r) }));
    for (const res of results) {
      const i = start + res.row;
      const row = parsed.rows[i];
      const words = RESULT_WORDS[res.status];
      counts[words] = (counts[words] ?? 0) + 1;
      tbody.append(
        el(
          'tr',
          { 'data-status': res.status },
          el('td', { text: String(parsed.lines[i]) }),
          el('td', { text: row.email ?? row.key ?? '' }),
          el('td', { text: words }),
          el('td', { text: res.error ?? '' }),
        ),
      );
    }
    bar.value = Math.min(start + CHUNK, parsed.rows.length);
    barLabel.textContent = `${bar.value} of ${parsed.rows.length} rows`;
  }
  button.disabled = false;
  const summary = Object.entries(counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  notify(`Import finished: ${summary}.`, counts.error ? 'error' : 'ok');
  $('bulk-summary').textContent = `Finished: ${summary}.`;
  await loadPeople();
  void loadHistory();
}

function bulkSection(): HTMLElement {
  const file = el('input', { type: 'file', id: 'bulk-file', accept: '.csv,text/csv,text/plain' });
  const text = el('textarea', {
    id: 'bulk-text',
    name: 'roster',
    rows: '6',
    'aria-describedby': 'bulk-help',
    placeholder: 'ada@school.example\nben@school.example',
  });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (f) text.value = await f.text();
  });
  const form = el(
    'form',
    {},
    el('p', {}, el('label', { for: 'bulk-text', text: 'Paste emails or school ids, or a CSV' })),
    text,
    el(
      'p',
      { id: 'bulk-help', class: 'muted' },
      'One per line. A CSV has a header row with email or key, and optionally roles, allow and deny (lists separated by “;”) — the format of ',
      el('code', { text: 'rosterbridge import' }),
      '.',
    ),
    el(
      'p',
      { class: 'search-row' },
      el('label', { for: 'bulk-file' }, 'Or upload a CSV file', file),
      el(
        'label',
        { for: 'bulk-role' },
        'Role for a plain list',
        el(
          'select',
          { id: 'bulk-role' },
          el('option', { value: 'Learner', text: 'Learner' }),
          el('option', { value: 'TeachingAssistant', text: 'Teaching assistant' }),
          el('option', { value: 'Mentor', text: 'Mentor' }),
          el('option', { value: 'Instructor', text: 'Instructor' }),
        ),
      ),
      el('button', { type: 'submit', id: 'bulk-go', class: 'primary', text: 'Import' }),
    ),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void importRoster(text.value);
  });
  return el(
    'section',
    { 'aria-labelledby': 'bulk-h' },
    el('h2', { id: 'bulk-h', text: 'Add many people at once' }),
    form,
    el(
      'div',
      { id: 'bulk-out', hidden: true },
      el('label', { for: 'bulk-progress', id: 'bulk-progress-label', text: 'Starting…' }),
      el('progress', { id: 'bulk-progress', max: '1', value: '0' }),
      el('p', { id: 'bulk-summary', role: 'status' }),
      el(
        'div',
        { class: 'scroll' },
        el(
          'table',
          { class: 'results', id: 'bulk-results' },
          el('caption', { class: 'visually-hidden', text: 'Result of each row' }),
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', { scope: 'col', text: 'Line' }),
              el('th', { scope: 'col', text: 'Person' }),
              el('th', { scope: 'col', text: 'Result' }),
              el('th', { scope: 'col', text: 'Why' }),
            ),
          ),
          el('tbody', { id: 'bulk-body' }),
        ),
      ),
    ),
  );
}

/* --- history --- */

let historyNext: number | null = null;
const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

async function loadHistory(more = false) {
  const r = await api.get<{ items: HistoryItem[]; next: number | null }>(
    `/courses/${course}/history?limit=10${more && historyNext ? `&before=${historyNext}` : ''}`,
  );
  const ul = $('history');
  if (!r.ok || !r.body) {
    ul.replaceChildren(el('li', { class: 'muted', text: `History unavailable: ${problemText(r)}` }));
    return;
  }
  const items = r.body.items.map((h) =>
    el('li', {}, h.text, el('time', { datetime: h.at, text: timeFmt.format(new Date(h.at)) })),
  );
  if (more) ul.append(...items);
  else ul.replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: 'Nothing has changed yet.' })]));
  historyNext = r.body.next;
  $('history-more').hidden = historyNext === null;
}

function historySection(): HTMLElement {
  return el(
    'section',
    { 'aria-labelledby': 'history-h' },
    el('h2', { id: 'history-h', text: 'History' }),
    el('ul', { id: 'history' }),
    el('button', {
      type: 'button',
      id: 'history-more',
      hidden: true,
      text: 'Show older changes',
      onclick: () => void loadHistory(true),
    }),
  );
}

/* --- start --- */

async function main() {
  let token: string | null;
  try {
    token = await bearer();
  } catch (e) {
    showRefusal('unauthenticated', UNAUTHENTICATED);
    notify(e instanceof SignInError ? e.message : 'Signing in failed.', 'error');
    return;
  }
  if (!token) return; // the server's sign-in view stays
  api = new Api(token);
  const [access, cat] = await Promise.all([
    api.get<Access>(`/courses/${course}/access`),
    api.get<{ items: CatalogueEntry[] }>('/privileges'),
  ]);
  if (access.status === 401 || !access.ok || !access.body) {
    if (access.status === 401 || access.status === 403) showRefusal('unauthenticated', UNAUTHENTICATED);
    else notify(`The course could not be opened: ${problemText(access)}`, 'error');
    return;
  }
  catalogue = cat.ok && cat.body ? cat.body.items : [];
  const a = access.body;
  $('course-title').textContent = a.course.title;
  document.title = `${a.course.title} — privileges`;
  $('who').textContent = `Signed in as ${a.you}${a.level === 'view' ? ' · view only' : ''}`;
  if (a.level === 'none') {
    showRefusal(
      'forbidden',
      forbiddenWords({
        courseTitle: a.course.title,
        you: a.you,
        missing: a.missing.map((key) => ({ key, label: label(key) })),
        managers: a.managers,
      }),
    );
    return;
  }
  canManage = a.level === 'manage';
  const sections = [peopleSection()];
  if (canManage) sections.push(searchSection(), bulkSection());
  sections.push(historySection());
  $('app').replaceChildren(...sections);
  await Promise.all([loadPeople(), loadHistory()]);
}

void main();
