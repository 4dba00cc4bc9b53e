import { createHash, createHmac, KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../src/db/store.js';
import { consumeNonce, nonceAlreadyRecorded, sweepExpiredLoginRecords } from '../src/domain/lti-states.js';
import type { ToolKeys } from './keys.js';

/**
 * OIDC login states, carried by the state parameter itself (docs/decisions/0008): login writes
 * nothing. The state is the login's facts (issuer, client, nonce, the hash of the browser cookie,
 * expiry…) MACed under a secret derived from the tool's active key pair, so only this tool can
 * mint one and it verifies in any process sharing the database. It is single use because its
 * nonce is: the launch records (issuer, nonce) once (lti_nonces, ON CONFLICT DO NOTHING), and a
 * nonce record outlives its state (nonce kept an hour past the id_token's expiry, state valid 10
 * minutes). Nothing in it is secret (the nonce goes to the platform in the clear anyway; the
 * browser secret is only present as its SHA-256), so it is signed, not encrypted.
 */
export interface StateRow {
  nonce: string;
  issuer: string;
  client_id: string;
  deployment_hint: string | null;
  /** SHA-256 of the login's target_link_uri: only ever compared. */
  target_hash: string;
  storage_target: string | null;
  auth_origin: string;
  browser_hash: string;
  /** ms since the epoch */
  expires_at: number;
}

export const STATE_TTL_MS = 10 * 60_000;
export const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
export const randomToken = (bytes = 24) => randomBytes(bytes).toString('base64url');

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookie that binds a state to the browser that started the login. */
export const stateCookieName = (state: string) => `rb_lti_${sha256(state).slice(0, 16)}`;

export interface NewState {
  nonce: string;
  issuer: string;
  clientId: string;
  deploymentHint: string | null;
  targetLinkUri: string;
  storageTarget: string | null;
  authOrigin: string;
}

/*
 * HMAC-SHA-256 through node:crypto, synchronously, under a CryptoKey's key material. WebCrypto's
 * subtle.sign/verify measured ~0.33 ms of main-thread CPU per HMAC on Node 20 (a job and a promise
 * per call) — more than the rest of a launch; createHmac takes a few µs. KeyObject.from needs no
 * extractable key, and is cached per CryptoKey.
 */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();
export function keyObjectOf(key: CryptoKey): KeyObject {
  let k = keyObjects.get(key);
  if (!k) keyObjects.set(key, (k = KeyObject.from(key)));
  return k;
}
export const hmacSha256 = (key: CryptoKey, data: string | Uint8Array): Buffer =>
  createHmac('sha256', keyObjectOf(key)).update(data).digest();

/*
 * The MAC key is the session secret of the tool key named in the state (HMAC-SHA-256 CryptoKey,
 * see ToolKeys.sessionSecret), with a domain prefix: the NUL byte cannot occur in a JWT's signing
 * input (base64url and dots), so a state MAC can never stand for a session signature or back.
 */
const DOMAIN = 'rosterbridge-lti-state\0';
const stateMac = (key: CryptoKey, body: string) => hmacSha256(key, DOMAIN + body);

interface Packed {
  v: 1;
  k: string;
  n: string;
  i: string;
  c: string;
  d: string | null;
  t: string;
  s: string | null;
  o: string;
  b: string;
  e: number;
}

/** Returns the state and the browser secret to set as its cookie. Writes nothing. */
export async function createState(keys: ToolKeys, s: NewState): Promise<{ state: string; browserSecret: string }> {
  const browserSecret = randomToken();
  const { kid, secret } = (await keys.sessionSecret())!;
  const packed: Packed = {
    v: 1,
    k: kid,
    n: s.nonce,
    i: s.issuer,
    c: s.clientId,
    d: s.deploymentHint,
    t: sha256(s.targetLinkUri),
    s: s.storageTarget,
    o: s.authOrigin,
    b: sha256(browserSecret),
    e: Date.now() + STATE_TTL_MS,
  };
  const body = Buffer.from(JSON.stringify(packed)).toString('base64url');
  const mac = stateMac(secret, body).toString('base64url');
  return { state: `${body}.${mac}`, browserSecret };
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const strOrNull = (v: unknown) => v === null || isStr(v);

/**
 * The login state a state value carries, when its MAC verifies under a key this tool knows
 * (active or retiring); undefined for anything else. Expiry is the caller's check.
 */
export async function openState(keys: ToolKeys, state: string): Promise<StateRow | undefined> {
  const dot = state.indexOf('.');
  if (dot <= 0 || dot !== state.lastIndexOf('.')) return undefined;
  const body = state.slice(0, dot);
  let p: Partial<Packed>;
  let mac: Buffer;
  try {
    p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Packed>;
    mac = Buffer.from(state.slice(dot + 1), 'base64url');
  } catch {
    return undefined;
  }
  if (typeof p !== 'object' || p === null || p.v !== 1 || !isStr(p.k)) return undefined;
  const key = await keys.sessionSecret(p.k);
  if (!key) return undefined;
  const expected = stateMac(key.secret, body);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
  if (
    !isStr(p.n) ||
    !isStr(p.i) ||
    !isStr(p.c) ||
    !strOrNull(p.d) ||
    !isStr(p.t) ||
    !strOrNull(p.s) ||
    !isStr(p.o) ||
    !isStr(p.b) ||
    typeof p.e !== 'number'
  )
    return undefined;
  return {
    nonce: p.n,
    issuer: p.i,
    client_id: p.c,
    deployment_hint: p.d ?? null,
    target_hash: p.t,
    storage_target: p.s ?? null,
    auth_origin: p.o,
    browser_hash: p.b,
    expires_at: p.e,
  };
}

/**
 * Burns the state by recording its nonce, in one statement: false when this issuer's nonce was
 * already accepted, i.e. the state was used before (a replay).
 */
export function consumeState(store: Store, s: StateRow, nonceExpiresAt: Date): Promise<boolean> {
  return consumeNonce(store, { issuer: s.issuer, nonce: s.nonce, nonceExpiresAt });
}

/** Whether this state was already used (read only on a refusal path, to name the refusal right). */
export function stateAlreadyUsed(store: Store, s: StateRow): Promise<boolean> {
  return nonceAlreadyRecorded(store, s.issuer, s.nonce);
}

/** Deletes expired states, nonces and tickets (called opportunistically from login). */
export const sweepExpired = sweepExpiredLoginRecords;
