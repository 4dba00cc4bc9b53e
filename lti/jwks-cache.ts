import { importJWK, type CryptoKey, type JWK } from 'jose';
import { LtiError } from './errors.js';

/**
 * Platform key sets, cached per JWKS URL. A kid we have not seen triggers one re-fetch (the platform
 * may have rotated), but at most once per `minRefetchMs` per URL, so a stream of tokens with made-up
 * kids cannot turn us into a traffic amplifier against the platform.
 */
export interface JwksCacheOptions {
  ttlMs?: number;
  minRefetchMs?: number;
  timeoutMs?: number;
  maxBytes?: number;
  fetch?: typeof fetch;
}

interface Entry {
  fetchedAt: number;
  keys: Map<string, JWK>;
  imported: Map<string, CryptoKey>;
  inflight?: Promise<void>;
}

export class JwksCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly minRefetchMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly fetchFn: typeof fetch;
  /** Number of HTTP fetches made (tests and metrics). */
  fetches = 0;

  constructor(options: JwksCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.minRefetchMs = options.minRefetchMs ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxBytes = options.maxBytes ?? 256 * 1024;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** The RS256 public key for `kid` at `url`, fetching/refetching as the rules above allow. */
  async key(url: string, kid: string): Promise<CryptoKey> {
    let entry = this.entries.get(url);
    const now = Date.now();
    if (!entry || now - entry.fetchedAt > this.ttlMs) entry = await this.refresh(url);
    else if (!entry.keys.has(kid) && now - entry.fetchedAt >= this.minRefetchMs) entry = await this.refresh(url);
    const jwk = entry.keys.get(kid);
    if (!jwk) throw new LtiError('kid', `The platform's key set has no key with kid "${kid}"`);
    let key = entry.imported.get(kid);
    if (!key) {
      try {
        key = (await importJWK(jwk, 'RS256')) as CryptoKey;
      } catch (err) {
        throw new LtiError('kid', `The platform's key "${kid}" is not a usable RS256 key`, 400, { cause: err });
      }
      entry.imported.set(kid, key);
    }
    return key;
  }

  private async refresh(url: string): Promise<Entry> {
    const existing = this.entries.get(url);
    if (existing?.inflight) {
      await existing.inflight;
      return this.entries.get(url)!;
    }
    const entry: Entry = existing ?? { fetchedAt: 0, keys: new Map(), imported: new Map() };
    this.entries.set(url, entry);
    entry.inflight = (async () => {
      this.fetches++;
      let body: { keys?: unknown };
      try {
        const res = await this.fetchFn(url, {
          signal: AbortSignal.timeout(this.timeoutMs),
          headers: { accept: 'application/json' },
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const text = await res.text();
        if (text.length > this.maxBytes) throw new Error('key set too large');
        body = JSON.parse(text) as { keys?: unknown };
      } catch (err) {
        // Keep serving the keys we had; mark the attempt so we do not hammer a failing platform.
        entry.fetchedAt = Date.now();
        if (entry.keys.size === 0) {
          this.entries.delete(url);
          throw new LtiError('jwks', `Could not fetch the platform's key set: ${(err as Error).message}`, 502, {
            cause: err,
          });
        }
        return;
      }
      const keys = new Map<string, JWK>();
      for (const k of Array.isArray(body.keys) ? (body.keys as JWK[]) : []) {
        if (
          k &&
          typeof k.kid === 'string' &&
          k.kty === 'RSA' &&
          (!k.use || k.use === 'sig') &&
          (!k.alg || k.alg === 'RS256')
        )
          keys.set(k.kid, k);
      }
      entry.keys = keys;
      entry.imported = new Map();
      entry.fetchedAt = Date.now();
    })();
    try {
      await entry.inflight;
    } finally {
      entry.inflight = undefined;
    }
    return entry;
  }
}
