/**
 * Browser side of a launch session, shared by the app pages: redeem the launch ticket
 * (#lti_ticket=…) or take the session the platform-storage flow hands over (#rb_session=…), keep it
 * in memory (and in sessionStorage where the browser allows it), and call /api/v1 with it as a
 * bearer token — never a cookie, so no other site can make the browser write (CSRF).
 */

export interface ApiResult<T = unknown> {
  status: number;
  ok: boolean;
  body: T | null;
}

export interface Problem {
  title?: string;
  detail?: string;
  candidates?: PersonRef[];
  details?: unknown;
}

export interface PersonRef {
  id: string;
  displayName?: string | null;
  userName?: string | null;
  primaryEmail?: string | null;
  email?: string | null;
  externalId?: string | null;
  status?: string;
}

/** The JSON the server put in the page for its script. */
export function pageData<T>(): T {
  const el = document.getElementById('rb-data');
  return JSON.parse(el?.textContent || '{}') as T;
}

// Cookie-blocked third-party iframes often block sessionStorage too: storage only where allowed.
function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}
/** Keeps a value for this tab where the browser allows it; false when it cannot. */
export function remember(key: string, value: string | null): boolean {
  try {
    const s = storage();
    if (!s) return false;
    if (value === null) s.removeItem(key);
    else s.setItem(key, value);
    return true;
  } catch {
    return false; /* blocked */
  }
}
export function recall(key: string): string | null {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

export class SignInError extends Error {}

/** The bearer session of this page, or null when the browser brought none. */
export async function signIn(): Promise<string | null> {
  const direct = /rb_session=([^&]+)/.exec(location.hash);
  if (direct) {
    const token = decodeURIComponent(direct[1]);
    // Out of the address once the tab keeps it (nothing to copy from the address bar or history);
    // where storage is blocked it stays, as the fragment is what lets a reload sign in again (a
    // fragment never reaches a server).
    if (remember('rb_bearer', token)) history.replaceState(null, '', location.pathname + location.search);
    return token;
  }
  const ticket = /lti_ticket=([^&]+)/.exec(location.hash);
  if (ticket) {
    history.replaceState(null, '', location.pathname + location.search);
    const r = await fetch('/lti/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' },
      body: JSON.stringify({ ticket: decodeURIComponent(ticket[1]) }),
    });
    if (!r.ok)
      throw new SignInError('Your sign-in link has expired or was used already; open the tool from your course again.');
    const token = ((await r.json()) as { token: string }).token;
    remember('rb_bearer', token);
    return token;
  }
  return recall('rb_bearer');
}

export class Api {
  constructor(private readonly bearer: string) {}

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.bearer}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let r: Response;
    try {
      r = await fetch(`/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      return { status: 0, ok: false, body: { title: 'The server could not be reached; check your connection.' } as T };
    }
    const text = await r.text();
    let json: T | null = null;
    try {
      json = text ? (JSON.parse(text) as T) : null;
    } catch {
      json = null;
    }
    return { status: r.status, ok: r.ok, body: json };
  }
  get<T>(path: string) {
    return this.call<T>('GET', path);
  }
}

/** A readable sentence for a failed call (problem+json detail or title). */
export function problemText(r: ApiResult): string {
  const p = r.body as Problem | null;
  if (r.status === 0) return p?.title ?? 'The server could not be reached.';
  return p?.detail || p?.title || `The server answered ${r.status}.`;
}

type Props = Record<string, string | boolean | number | EventListener | null | undefined>;

/** Builds an element; values only ever go in through textContent and attributes, never innerHTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = String(v);
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export const nameOf = (p: PersonRef): string =>
  p.displayName || p.userName || p.primaryEmail || p.email || p.externalId || 'Someone';
