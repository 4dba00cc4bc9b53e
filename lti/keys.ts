import { hkdfSync, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Store } from '../src/db/store.js';
import {
  hasActiveToolKey,
  insertFirstToolKey,
  publishedToolKeys,
  rotateToolKeys,
  type NewToolKey,
} from '../src/domain/tool-keys.js';

/**
 * The tool's own RSA key pairs. One `active` key signs (deep linking responses, sessions); keys
 * being rotated out stay `retiring` and published in the JWKS until `retire_after`, so a platform
 * (or a session) holding something signed by the old key keeps verifying during the grace period.
 * Private keys are stored as JWK in the database (not encrypted at rest — see the decision record).
 */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

const DEFAULT_GRACE_MS = 7 * 24 * 3600 * 1000;
const CACHE_MS = 30_000;

async function newKeyRow(): Promise<NewToolKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256' };
  return { kid, publicJwk, privateJwk };
}

export class ToolKeys {
  private cache?: { at: number; signing: SigningKey; sessionSecrets: Map<string, CryptoKey>; jwks: { keys: JWK[] } };
  private loading?: Promise<NonNullable<ToolKeys['cache']>>;
  constructor(private readonly store: Store) {}

  /** Drops the in-process cache (after a rotation in this process). */
  invalidate(): void {
    this.cache = undefined;
  }

  private async load() {
    if (this.cache && Date.now() - this.cache.at < CACHE_MS) return this.cache;
    this.loading ??= (async () => {
      try {
        await ensureActiveKey(this.store);
        const rows = await publishedToolKeys(this.store);
        const active = rows.find((r) => r.status === 'active')!;
        const sessionSecrets = new Map<string, CryptoKey>();
        for (const r of rows) sessionSecrets.set(r.kid, await deriveSessionKey(r.private_jwk, r.kid));
        this.cache = {
          at: Date.now(),
          signing: { kid: active.kid, privateKey: (await importJWK(active.private_jwk, 'RS256')) as CryptoKey },
          sessionSecrets,
          jwks: { keys: rows.map((r) => r.public_jwk) },
        };
        return this.cache;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** An unknown kid may be a rotation in another process: reload, but not more than every 2 s (made-up kids cost nothing). */
  private async reloadOnMiss(c: NonNullable<ToolKeys['cache']>) {
    if (Date.now() - c.at < 2_000) return c;
    this.invalidate();
    return this.load();
  }

  async signingKey(): Promise<SigningKey> {
    return (await this.load()).signing;
  }
  async jwks(): Promise<{ keys: JWK[] }> {
    return (await this.load()).jwks;
  }
  /**
   * The HMAC secret for sessions signed under `kid` (default: the active key). Sessions are only
   * ever verified by this service, so a symmetric MAC does: ~100× cheaper than an RS256 signature
   * on every launch. Derived from the key pair, so it rotates and retires with it.
   */
  async sessionSecret(kid?: string): Promise<{ kid: string; secret: CryptoKey } | undefined> {
    let c = await this.load();
    const want = kid ?? c.signing.kid;
    if (!c.sessionSecrets.has(want)) c = await this.reloadOnMiss(c);
    const secret = c.sessionSecrets.get(want);
    return secret ? { kid: want, secret } : undefined;
  }
}

/** Imported once as an HMAC CryptoKey: jose would otherwise import raw bytes on every sign/verify. */
function deriveSessionKey(privateJwk: JWK, kid: string): Promise<CryptoKey> {
  const raw = new Uint8Array(
    hkdfSync('sha256', Buffer.from(privateJwk.d!, 'base64url'), 'rosterbridge-session', kid, 32),
  );
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]) as Promise<CryptoKey>;
}

/** Creates the first key when there is none; concurrent starters agree on one (unique index). */
export async function ensureActiveKey(store: Store): Promise<void> {
  if (await hasActiveToolKey(store)) return;
  await insertFirstToolKey(store, await newKeyRow());
}

/**
 * `keys rotate`: a new active key; the previous one keeps being published (and accepted for our
 * own sessions) until the grace period ends. Keys past their grace period are deleted.
 */
export async function rotateKeys(
  store: Store,
  graceMs = DEFAULT_GRACE_MS,
): Promise<{ kid: string; retired: string[]; deleted: number }> {
  const k = await newKeyRow();
  return { kid: k.kid, ...(await rotateToolKeys(store, k, graceMs)) };
}
