/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';

/**
 * Server-rendered LTI pages (hono/jsx). Data for scripts travels in a JSON <script> element, never
 * interpolated into code; scripts run under a per-response CSP nonce.
 */
const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.3rem}.muted{color:#57606a;font-size:.9rem}code{font:.85rem ui-monospace,monospace;background:#f5f6f8;padding:0 .2rem}
button{font:inherit;padding:.4rem 1rem}`;

/** JSON safe to embed in HTML: no "</script>", no HTML comment openers, no U+2028/9. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function cspHeader(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    // The login page and deep linking response post/navigate to the platform.
    'form-action https: http:',
    'frame-ancestors *',
    "base-uri 'none'",
  ].join('; ');
}

function Layout(props: { title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        <style>{raw(STYLE)}</style>
      </head>
      <body>{props.children}</body>
    </html>
  );
}

const CHECK_HELP: Record<string, string> = {
  browser: 'Your browser did not keep the login cookie for this tool. Open the tool in a new window and try again.',
  state: 'This launch link was already used or has expired. Go back to your course and open the tool again.',
  identity: 'Ask your school to add you to Rosterbridge, then open the tool again.',
  person_inactive: 'Your account is not active. Ask your school if this is unexpected.',
};

export function ErrorPage(props: { status: number; check: string; message: string; requestId: string }) {
  return (
    <Layout title="The tool could not be opened">
      <h1>The tool could not be opened</h1>
      <p>{props.message}</p>
      {CHECK_HELP[props.check] ? <p>{CHECK_HELP[props.check]}</p> : null}
      <p class="muted">
        Failed check: <code data-check={props.check}>{props.check}</code> · status {props.status}
        <br />
        Reference for your school's support: <code data-request-id={props.requestId}>{props.requestId}</code>
      </p>
    </Layout>
  );
}

function DataScript(props: { id: string; value: unknown }) {
  return (
    <script type="application/json" id={props.id}>
      {raw(jsonForScript(props.value))}
    </script>
  );
}

/** Shared postMessage helpers of the platform storage flow (LTI-NOTES §1, §6.1). */
const STORAGE_JS = `
const newId = () => Math.random().toString(36).slice(2) + Date.now().toString(36);
const parentWin = window.opener || (window.parent !== window ? window.parent : null);
function ask(win, origin, subject, extra, ms, acceptOrigin) {
  return new Promise((resolve) => {
    if (!win) return resolve(null);
    const id = newId();
    const on = (e) => {
      const m = e.data;
      if (typeof m !== 'object' || m === null || m.subject !== subject + '.response' || m.message_id !== id) return;
      if (e.source !== win) return;
      if (acceptOrigin !== '*' && e.origin !== acceptOrigin) return;
      done(m.error ? null : m);
    };
    const done = (v) => { window.removeEventListener('message', on); clearTimeout(timer); resolve(v); };
    window.addEventListener('message', on);
    const timer = setTimeout(() => done(null), ms);
    try { win.postMessage(Object.assign({ subject, message_id: id }, extra), origin); } catch (e) { done(null); }
  });
}
async function storageChannel(d) {
  // Ask both the final and the draft subject names (Brightspace answers only org.imsglobal.*).
  const capsOf = (s) => ask(parentWin, '*', s, {}, 1000, '*').then((r) => r && { prefix: s.replace(/capabilities$/, ''), r });
  const caps = await Promise.all([capsOf('lti.capabilities'), capsOf('org.imsglobal.lti.capabilities')]);
  const got = caps.find(Boolean);
  let prefix = 'lti.';
  let frameName = d.storageTarget;
  if (got) {
    prefix = got.prefix;
    const put = (got.r.supported_messages || []).find((m) => m && m.subject === prefix + 'put_data');
    if (!frameName && put && put.frame) frameName = put.frame;
  }
  let frame = null;
  try { frame = !frameName || frameName === '_parent' ? parentWin : parentWin && parentWin.frames[frameName]; } catch (e) { frame = null; }
  return { prefix, frame: frame || parentWin };
}
async function storageCall(ch, d, op, extra) {
  const subject = ch.prefix + op;
  const strict = await ask(ch.frame, d.authOrigin, subject, extra, 2000, d.authOrigin);
  if (strict) return strict;
  // Canvas RCE: no sibling frame; fall back to the parent with '*', trusting only the LMS origin
  // taken from the signed launch (or, at login, nothing more than the auth origin).
  if (ch.frame !== parentWin) return ask(parentWin, '*', subject, extra, 2000, d.fallbackOrigin || d.authOrigin);
  return null;
}
`;

const LOGIN_JS = `
(async () => {
  const d = JSON.parse(document.getElementById('lti-login').textContent);
  try {
    const ch = await storageChannel(d);
    await storageCall(ch, d, 'put_data', { key: 's_' + d.state, value: d.state });
    await storageCall(ch, d, 'put_data', { key: 'n_' + d.nonce, value: d.nonce });
  } finally {
    // Navigate even when storage failed: the state cookie may still come back.
    location.replace(d.authUrl);
  }
})();
`;

/** Login response when the platform offers storage: store state and nonce, then go to the auth endpoint. */
export function StorageLoginPage(props: {
  cspNonce: string;
  data: { authUrl: string; authOrigin: string; storageTarget: string; state: string; nonce: string };
}) {
  return (
    <Layout title="Opening the tool…">
      <p>Opening the tool…</p>
      <noscript>
        <p>
          <a href={props.data.authUrl}>Continue</a>
        </p>
      </noscript>
      <DataScript id="lti-login" value={props.data} />
      <script nonce={props.cspNonce}>{raw(STORAGE_JS + LOGIN_JS)}</script>
    </Layout>
  );
}

const VERIFY_JS = `
(async () => {
  const d = JSON.parse(document.getElementById('lti-verify').textContent);
  const out = document.getElementById('status');
  const fail = (why) => { out.textContent = 'The tool could not confirm this launch (' + why + '). Open the tool in a new window.'; out.dataset.result = 'failed'; };
  try {
    const ch = await storageChannel(d);
    const s = await storageCall(ch, d, 'get_data', { key: 's_' + d.state });
    const n = await storageCall(ch, d, 'get_data', { key: 'n_' + d.nonce });
    if (!s || s.value !== d.state || !n || n.value !== d.nonce) return fail('platform storage did not return this launch');
    const res = await fetch(d.confirmUrl, { method: 'POST', credentials: 'omit', headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' }, body: JSON.stringify({ ticket: d.ticket, state: d.state }) });
    if (!res.ok) return fail('confirmation refused');
    const body = await res.json();
    await Promise.all([
      storageCall(ch, d, 'put_data', { key: 's_' + d.state, value: null }),
      storageCall(ch, d, 'put_data', { key: 'n_' + d.nonce, value: null }),
    ]);
    out.dataset.result = 'confirmed';
    // Third-party iframes that block cookies usually block sessionStorage too: hand the bearer
    // session to the app page in the fragment (never sent to a server); the page keeps it in memory.
    location.replace(body.redirectTo + '#rb_session=' + encodeURIComponent(body.token));
  } catch (e) { fail('error'); }
})();
`;

/** Launch response without the state cookie: prove the browser through platform storage first. */
export function StorageVerifyPage(props: {
  cspNonce: string;
  data: {
    authOrigin: string;
    fallbackOrigin: string | null;
    storageTarget: string;
    state: string;
    nonce: string;
    ticket: string;
    confirmUrl: string;
  };
}) {
  return (
    <Layout title="Opening the tool…">
      <p id="status">Checking this launch…</p>
      <DataScript id="lti-verify" value={props.data} />
      <script nonce={props.cspNonce}>{raw(STORAGE_JS + VERIFY_JS)}</script>
    </Layout>
  );
}

/** Deep linking response: an auto-submitting form posting the signed JWT to the platform. */
export function DeepLinkResponsePage(props: {
  cspNonce: string;
  returnUrl: string;
  jwt: string;
  itemTitle: string | null;
}) {
  return (
    <Layout title="Adding the tool…">
      <form id="dl" method="post" action={props.returnUrl}>
        <input type="hidden" name="JWT" value={props.jwt} />
        <p>{props.itemTitle ? `Adding “${props.itemTitle}” to your course…` : 'Returning to your course…'}</p>
        <button type="submit">Continue</button>
      </form>
      <script nonce={props.cspNonce}>{raw("document.getElementById('dl').submit();")}</script>
    </Layout>
  );
}

/** After dynamic registration: tell the platform's registration window to close (LTI DR §3.6). */
export function RegistrationDonePage(props: {
  cspNonce: string;
  issuer: string;
  clientId: string;
  deploymentId: string;
}) {
  return (
    <Layout title="Rosterbridge registered">
      <h1>Rosterbridge is registered</h1>
      <p>
        Platform <code>{props.issuer}</code>, client <code>{props.clientId}</code>, deployment{' '}
        <code>{props.deploymentId}</code>.
      </p>
      <script nonce={props.cspNonce}>
        {raw("(window.opener || window.parent).postMessage({ subject: 'org.imsglobal.lti.close' }, '*');")}
      </script>
    </Layout>
  );
}

export function renderPage(node: unknown): string {
  return `<!doctype html>${String(node)}`;
}
