import { serve, type ServerType } from '@hono/node-server';
import { createHmac, createPublicKey, createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';

/**
 * A small LMS on a real socket, as a tool meets one: its JWKS, an OIDC authorization endpoint that
 * answers with an auto-submitting form post of a signed id_token, an openid-configuration and
 * registration endpoint for dynamic registration, and a deep-linking return endpoint. The test
 * side drives it through `Browser`, which keeps cookies per origin like a browser would.
 */
export const LTI_CLAIM = 'https://purl.imsglobal.org/spec/lti/claim/';

export interface LaunchSpec {
  /** Claims of the id_token; iss/aud/iat/exp/nonce are filled in unless given. */
  payload: Record<string, unknown>;
  /** Header fields instead of the default {alg: RS256, kid, typ}. */
  header?: Record<string, unknown>;
  /** Fields of payload to keep as given (not overwritten by the emulator). */
  keep?: string[];
  /** How to sign: RS256 with the platform key (default), alg none, HS256 keyed with the public key PEM, or another RSA key. */
  signing?: 'rs256' | 'none' | 'hs256-public-key' | 'foreign-key';
  /** Mutates the final payload just before signing (e.g. swap the nonce). */
  mutate?: (payload: Record<string, unknown>, authRequest: URLSearchParams) => void;
}

export interface EmulatorKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

function newKey(kid: string = randomUUID()): EmulatorKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    privateKey,
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as object), kid, alg: 'RS256', use: 'sig' },
  };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export function signCompact(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  how: LaunchSpec['signing'],
  key: EmulatorKey,
  foreign: EmulatorKey,
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (how === 'none') return `${input}.`;
  if (how === 'hs256-public-key') {
    const pem = createPublicKey(key.privateKey).export({ format: 'pem', type: 'spki' }) as string;
    return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
  }
  const signer = createSign('RSA-SHA256');
  signer.update(input);
  return `${input}.${signer.sign(how === 'foreign-key' ? foreign.privateKey : key.privateKey).toString('base64url')}`;
}

export interface PlatformEmulator {
  url: string;
  issuer: string;
  clientId: string;
  authUrl: string;
  tokenUrl: string;
  jwksUrl: string;
  keys: EmulatorKey[];
  /** JWKS fetches served so far. */
  jwksHits: number;
  /** Adds a key and signs with it from now on (it is published at once unless `publish` is false). */
  rotate(publish?: boolean): EmulatorKey;
  /** Queues the launch the auth endpoint will answer for this login_hint. */
  prepare(loginHint: string, spec: LaunchSpec): void;
  /** Deep linking responses posted back to the platform. */
  deepLinkReturns: Array<{ url: string; jwt: string }>;
  /** Dynamic registration requests received and the answer to give. */
  registrations: Array<{ body: Record<string, unknown>; token: string | undefined }>;
  registrationAnswer: { clientId: string; deploymentId: string };
  close(): Promise<void>;
}

export async function startPlatformEmulator(
  options: { clientId?: string; issuerPath?: string; issuer?: string } = {},
): Promise<PlatformEmulator> {
  const app = new Hono();
  const keys: EmulatorKey[] = [newKey()];
  const published = new Set([keys[0].kid]);
  const foreign = newKey(keys[0].kid); // same kid, other key: a forged token
  const pending = new Map<string, LaunchSpec>();
  let base = '';
  const emu = {
    jwksHits: 0,
    deepLinkReturns: [] as Array<{ url: string; jwt: string }>,
    registrations: [] as Array<{ body: Record<string, unknown>; token: string | undefined }>,
    registrationAnswer: { clientId: 'dyn-client', deploymentId: 'dyn-deploy' },
  };

  app.get('/jwks', (c) => {
    emu.jwksHits++;
    return c.json({ keys: keys.filter((k) => published.has(k.kid)).map((k) => k.publicJwk) });
  });

  // OIDC authorization endpoint: form_post of the id_token to redirect_uri, as LMSs do.
  app.get('/auth', (c) => {
    const q = new URL(c.req.url).searchParams;
    for (const [k, v] of [
      ['scope', 'openid'],
      ['response_type', 'id_token'],
      ['response_mode', 'form_post'],
      ['prompt', 'none'],
    ] as const) {
      if (q.get(k) !== v) return c.text(`bad ${k}`, 400);
    }
    if (q.get('client_id') !== self.clientId) return c.text('unknown client_id', 400);
    const hint = q.get('login_hint') ?? '';
    const spec = pending.get(hint);
    if (!spec) return c.text('no launch prepared for this login_hint', 400);
    const key = keys[keys.length - 1];
    const now = Math.floor(Date.now() / 1000);
    const keep = new Set(spec.keep ?? []);
    const payload: Record<string, unknown> = { ...spec.payload };
    const set = (k: string, v: unknown) => {
      if (!keep.has(k)) payload[k] = v;
    };
    set('iss', issuer);
    if (!('aud' in spec.payload) || !keep.has('aud')) set('aud', self.clientId);
    set('iat', now);
    set('exp', now + 300);
    set('nonce', q.get('nonce'));
    spec.mutate?.(payload, q);
    const header = spec.header ?? {
      alg: spec.signing === 'none' ? 'none' : spec.signing === 'hs256-public-key' ? 'HS256' : 'RS256',
      kid: key.kid,
      typ: 'JWT',
    };
    const idToken = signCompact(header, payload, spec.signing, key, foreign);
    const fields = {
      id_token: idToken,
      state: q.get('state') ?? '',
      ...(q.get('lti_storage_target') ? { lti_storage_target: q.get('lti_storage_target')! } : {}),
    };
    const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
    return c.html(`<!doctype html><html><body onload="document.forms[0].submit()">
<form method="post" action="${esc(q.get('redirect_uri') ?? '')}">
${Object.entries(fields)
  .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
  .join('\n')}
</form></body></html>`);
  });

  // The LMS course page: the tool in an iframe next to the platform-storage frame (Canvas's
  // post_message_forwarding). ?mode=wrong makes storage answer with a value nobody stored.
  app.get('/course', (c) => {
    const tool = c.req.query('tool') ?? '';
    const mode = c.req.query('mode') === 'wrong' ? 'wrong' : 'ok';
    const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
    return c.html(`<!doctype html><html><body>
<iframe name="post_message_forwarding" src="/storage-frame?mode=${mode}" style="display:none"></iframe>
<iframe name="tool" id="tool" src="${esc(tool)}" width="800" height="600"></iframe>
<script>
window.addEventListener('message', (e) => {
  const m = e.data;
  if (!m || typeof m !== 'object' || m.subject !== 'lti.capabilities') return;
  e.source.postMessage({ subject: 'lti.capabilities.response', message_id: m.message_id, supported_messages: [
    { subject: 'lti.capabilities' }, { subject: 'lti.put_data', frame: 'post_message_forwarding' }, { subject: 'lti.get_data', frame: 'post_message_forwarding' } ] }, e.origin);
});
</script></body></html>`);
  });
  app.get('/storage-frame', (c) => {
    const wrong = c.req.query('mode') === 'wrong';
    return c.html(`<!doctype html><html><body><script>
const store = new Map();
window.addEventListener('message', (e) => {
  const m = e.data;
  if (!m || typeof m !== 'object' || typeof m.subject !== 'string') return;
  const key = e.origin + '|' + m.key; // partitioned by the sender's origin, as Canvas does
  const reply = (extra) => e.source.postMessage(Object.assign({ subject: m.subject + '.response', message_id: m.message_id }, extra), e.origin);
  if (m.subject === 'lti.put_data') { if (m.value === null) store.delete(key); else store.set(key, m.value); reply({ key: m.key, value: m.value }); }
  else if (m.subject === 'lti.get_data') reply({ key: m.key, value: ${wrong ? "'forged'" : 'store.has(key) ? store.get(key) : null'} });
});
</script></body></html>`);
  });

  app.get('/.well-known/openid-configuration', (c) =>
    c.json({
      issuer,
      authorization_endpoint: `${base}/auth`,
      token_endpoint: `${base}/token`,
      jwks_uri: `${base}/jwks`,
      registration_endpoint: `${base}/register`,
      'https://purl.imsglobal.org/spec/lti-platform-configuration': { product_family_code: 'emulator', version: '1' },
    }),
  );
  app.post('/register', async (c) => {
    const body = (await c.req.json()) as Record<string, unknown>;
    emu.registrations.push({ body, token: c.req.header('authorization')?.replace(/^Bearer /, '') });
    return c.json({
      client_id: emu.registrationAnswer.clientId,
      ...body,
      'https://purl.imsglobal.org/spec/lti-tool-configuration': {
        ...(body['https://purl.imsglobal.org/spec/lti-tool-configuration'] as object),
        deployment_id: emu.registrationAnswer.deploymentId,
      },
    });
  });
  app.post('/deep-link-return', async (c) => {
    const form = await c.req.parseBody();
    emu.deepLinkReturns.push({ url: c.req.url, jwt: String(form.JWT ?? '') });
    return c.text('ok');
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = options.issuer ?? base + (options.issuerPath ?? '');
  const clientId = options.clientId ?? 'emulator-client';
  const self: PlatformEmulator = Object.assign(emu, {
    url: base,
    issuer,
    clientId,
    authUrl: `${base}/auth`,
    tokenUrl: `${base}/token`,
    jwksUrl: `${base}/jwks`,
    keys,
    rotate(publish = true) {
      const k = newKey();
      keys.push(k);
      if (publish) published.add(k.kid);
      return k;
    },
    prepare(loginHint: string, spec: LaunchSpec) {
      pending.set(loginHint, spec);
    },
    close: () =>
      new Promise<void>((resolve) => {
        (server as import('node:http').Server).closeAllConnections?.();
        server.close(() => resolve());
      }),
  });
  return self;
}

/** A cookie-keeping HTTP client standing in for the user's browser. */
export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly blockCookies = false) {}

  private store(res: Response) {
    if (this.blockCookies) return;
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim().toLowerCase()).find((a) => a.startsWith('max-age='));
      if (value === '' || maxAge === 'max-age=0') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(res);
    return res;
  }

  /** Submits the first form of an HTML page, as its onload script would. */
  async submitForm(page: string): Promise<Response> {
    const action = /<form[^>]*action="([^"]*)"/.exec(page)?.[1];
    if (!action) throw new Error(`no form in page: ${page.slice(0, 200)}`);
    const unesc = (s: string) =>
      s
        .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
        .replace(/&amp;/g, '&')
        .replace(/&quot;/g, '"');
    const body = new URLSearchParams();
    for (const m of page.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g))
      body.set(unesc(m[1]), unesc(m[2]));
    return this.fetch(unesc(action), {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
}

export interface LaunchOptions {
  toolUrl: string;
  loginHint?: string;
  deploymentId?: string;
  targetLinkUri?: string;
  storageTarget?: string;
  browser?: Browser;
  loginMethod?: 'GET' | 'POST';
  /** Sends this client_id in the login (default the emulator's). */
  clientId?: string | null;
  /** The tool's login initiation path (default /lti/login). */
  loginPath?: string;
}

export interface LaunchResult {
  login: Response;
  auth?: Response;
  authPage?: string;
  launch?: Response;
  browser: Browser;
}

/** The whole third-party-initiated login: login → auth endpoint → form post to the tool. */
export async function runLaunch(emu: PlatformEmulator, spec: LaunchSpec, o: LaunchOptions): Promise<LaunchResult> {
  const browser = o.browser ?? new Browser();
  const loginHint = o.loginHint ?? randomUUID();
  emu.prepare(loginHint, spec);
  const params = new URLSearchParams({
    iss: emu.issuer,
    login_hint: loginHint,
    target_link_uri: o.targetLinkUri ?? `${o.toolUrl}/lti/launch`,
    lti_message_hint: 'msg-hint',
  });
  if (o.clientId !== null) params.set('client_id', o.clientId ?? emu.clientId);
  if (o.deploymentId) params.set('lti_deployment_id', o.deploymentId);
  if (o.storageTarget) params.set('lti_storage_target', o.storageTarget);
  const loginUrl = `${o.toolUrl}${o.loginPath ?? '/lti/login'}`;
  const login =
    o.loginMethod === 'POST'
      ? await browser.fetch(loginUrl, {
          method: 'POST',
          body: params,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      : await browser.fetch(`${loginUrl}?${params}`);
  let authUrl: string | null = null;
  if (login.status === 302) authUrl = login.headers.get('location');
  else if (login.status === 200 && o.storageTarget) {
    const page = await login.text();
    const data = /<script type="application\/json" id="lti-login">([^<]*)<\/script>/.exec(page)?.[1];
    authUrl = data ? (JSON.parse(data) as { authUrl: string }).authUrl : null;
  }
  if (!authUrl) return { login, browser };
  const auth = await browser.fetch(authUrl);
  const authPage = await auth.text();
  if (auth.status !== 200) return { login, auth, authPage, browser };
  const launch = await browser.submitForm(authPage);
  return { login, auth, authPage, launch, browser };
}

/** `rosterbridge platform add` arguments that register this emulator for a tenant (JIT on). */
export function platformAddArgs(tenantSlug: string, emu: PlatformEmulator, deploymentId: string): string[] {
  return [
    'platform',
    'add',
    '--tenant',
    tenantSlug,
    '--issuer',
    emu.issuer,
    '--client-id',
    emu.clientId,
    '--deployment-id',
    deploymentId,
    '--auth-login-url',
    emu.authUrl,
    '--auth-token-url',
    emu.tokenUrl,
    '--jwks-url',
    emu.jwksUrl,
    '--jit',
  ];
}
