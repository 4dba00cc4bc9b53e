/**
 * The LTI platform storage flow's postMessage helpers (LTI-NOTES §1, §6.1): the login page stores
 * state and nonce with the platform, the launch page reads them back to prove the browser.
 */

export interface StorageData {
  authOrigin: string;
  storageTarget: string;
  fallbackOrigin?: string | null;
}

interface StorageMessage {
  subject?: string;
  message_id?: string;
  error?: unknown;
  value?: unknown;
  supported_messages?: Array<{ subject?: string; frame?: string }>;
}

export interface Channel {
  prefix: string;
  frame: Window | null;
}

const newId = () => Math.random().toString(36).slice(2) + Date.now().toString(36);
const parentWin: Window | null = window.opener || (window.parent !== window ? window.parent : null);

function ask(
  win: Window | null,
  origin: string,
  subject: string,
  extra: Record<string, unknown>,
  ms: number,
  acceptOrigin: string,
): Promise<StorageMessage | null> {
  return new Promise((resolve) => {
    if (!win) return resolve(null);
    const id = newId();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (v: StorageMessage | null) => {
      window.removeEventListener('message', on);
      clearTimeout(timer);
      resolve(v);
    };
    const on = (e: MessageEvent) => {
      const m = e.data as StorageMessage | null;
      if (typeof m !== 'object' || m === null || m.subject !== `${subject}.response` || m.message_id !== id) return;
      if (e.source !== win) return;
      if (acceptOrigin !== '*' && e.origin !== acceptOrigin) return;
      done(m.error ? null : m);
    };
    window.addEventListener('message', on);
    timer = setTimeout(() => done(null), ms);
    try {
      win.postMessage({ subject, message_id: id, ...extra }, origin);
    } catch {
      done(null);
    }
  });
}

export async function storageChannel(d: StorageData): Promise<Channel> {
  // Ask both the final and the draft subject names (Brightspace answers only org.imsglobal.*).
  const capsOf = (s: string) =>
    ask(parentWin, '*', s, {}, 1000, '*').then((r) => (r ? { prefix: s.replace(/capabilities$/, ''), r } : null));
  const caps = await Promise.all([capsOf('lti.capabilities'), capsOf('org.imsglobal.lti.capabilities')]);
  const got = caps.find(Boolean);
  let prefix = 'lti.';
  let frameName = d.storageTarget;
  if (got) {
    prefix = got.prefix;
    const put = (got.r.supported_messages || []).find((m) => m && m.subject === `${prefix}put_data`);
    if (!frameName && put?.frame) frameName = put.frame;
  }
  let frame: Window | null = null;
  try {
    frame =
      !frameName || frameName === '_parent'
        ? parentWin
        : ((parentWin?.frames as unknown as Record<string, Window | undefined>)?.[frameName] ?? null);
  } catch {
    frame = null;
  }
  return { prefix, frame: frame || parentWin };
}

export async function storageCall(
  ch: Channel,
  d: StorageData,
  op: 'put_data' | 'get_data',
  extra: Record<string, unknown>,
): Promise<StorageMessage | null> {
  const subject = ch.prefix + op;
  const strict = await ask(ch.frame, d.authOrigin, subject, extra, 2000, d.authOrigin);
  if (strict) return strict;
  // Canvas RCE: no sibling frame; fall back to the parent with '*', trusting only the LMS origin
  // taken from the signed launch (or, at login, nothing more than the auth origin).
  if (ch.frame !== parentWin) return ask(parentWin, '*', subject, extra, 2000, d.fallbackOrigin || d.authOrigin);
  return null;
}

export function readData<T>(id: string): T {
  return JSON.parse(document.getElementById(id)?.textContent || '{}') as T;
}
