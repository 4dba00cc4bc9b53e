import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { UpstreamError } from '../src/errors.js';
import type { SigningKey } from './keys.js';

/**
 * Access tokens for LTI Advantage services (1EdTech Security Framework §4.1; LTI-NOTES §2.2):
 * OAuth 2 client credentials with a JWT client assertion (RFC 7523) signed by the tool's active
 * key — iss = sub = client_id, aud = the token URL (Brightspace: its documented audience), a
 * five-minute lifetime and a fresh jti. Tokens are cached per (platform token URL, issuer,
 * client_id, scopes) until shortly before they expire; concurrent callers share one request.
 */
export interface ServicePlatform {
  issuer: string;
  clientId: string;
  authTokenUrl: string;
}

export interface ServiceTokenOptions {
  signingKey: () => Promise<SigningKey>;
  fetch?: typeof fetch;
  /** Per token request (default 10 s). */
  timeoutMs?: number;
  /** Tokens are dropped this long before they expire (default 60 s). */
  expiryMarginMs?: number;
}

/** The token endpoint refused us or could not be reached. */
export class ServiceTokenError extends UpstreamError {
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryAfterSeconds: number | null,
    readonly timedOut = false,
    options: { cause?: unknown } = {},
  ) {
    super(message, { ...options, details: { status } });
  }
}

/** The assertion audience: the token URL itself, except where a platform documents another (LTI-NOTES §2.2). */
export function assertionAudience(tokenUrl: string): string {
  try {
    if (new URL(tokenUrl).host === 'auth.brightspace.com') return 'https://api.brightspace.com/auth/token';
  } catch {
    // an unparseable URL is refused when fetched
  }
  return tokenUrl;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date); null when absent or unreadable. */
export function retryAfterSeconds(header: string | null): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

interface Cached {
  token: string;
  expiresAt: number;
}

export class ServiceTokens {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<Cached>>();
  /** Token requests made (tests read it to see the cache work). */
  requests = 0;

  constructor(private readonly options: ServiceTokenOptions) {}

  private key(p: ServicePlatform, scopes: string[]): string {
    return JSON.stringify([p.authTokenUrl, p.issuer, p.clientId, [...new Set(scopes)].sort()]);
  }

  /** A bearer token for these scopes, from the cache while it is fresh. */
  async get(p: ServicePlatform, scopes: string[]): Promise<string> {
    const key = this.key(p, scopes);
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.token;
    let req = this.pending.get(key);
    if (!req) {
      req = this.request(p, scopes).finally(() => this.pending.delete(key));
      this.pending.set(key, req);
    }
    const got = await req;
    this.cache.set(key, got);
    return got.token;
  }

  /** Forgets a token the platform no longer accepts (a 401 from the service). */
  drop(p: ServicePlatform, scopes: string[]): void {
    this.cache.delete(this.key(p, scopes));
  }

  private async assertion(p: ServicePlatform): Promise<string> {
    const key = await this.options.signingKey();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .setIssuer(p.clientId)
      .setSubject(p.clientId)
      .setAudience(assertionAudience(p.authTokenUrl))
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  private async request(p: ServicePlatform, scopes: string[]): Promise<Cached> {
    this.requests++;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await this.assertion(p),
      scope: [...new Set(scopes)].join(' '),
    });
    const doFetch = this.options.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(p.authTokenUrl, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        redirect: 'error',
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new ServiceTokenError(
        timedOut
          ? `The platform's token endpoint did not answer in time (${p.authTokenUrl})`
          : `The platform's token endpoint could not be reached (${p.authTokenUrl}): ${(err as Error).message}`,
        null,
        null,
        timedOut,
        { cause: err },
      );
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let why = '';
      try {
        const e = JSON.parse(text) as { error?: unknown; error_description?: unknown };
        why = [e.error, e.error_description].filter((x) => typeof x === 'string').join(': ');
      } catch {
        why = text.slice(0, 200);
      }
      throw new ServiceTokenError(
        `The platform refused an access token (HTTP ${res.status}${why ? `, ${why}` : ''})`,
        res.status,
        retryAfterSeconds(res.headers.get('retry-after')),
      );
    }
    let json: { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ServiceTokenError("The platform's token response is not JSON", res.status, null, false, { cause: err });
    }
    if (typeof json.access_token !== 'string' || json.access_token === '')
      throw new ServiceTokenError("The platform's token response has no access_token", res.status, null);
    if (typeof json.token_type === 'string' && json.token_type.toLowerCase() !== 'bearer')
      throw new ServiceTokenError(
        `The platform issued a ${json.token_type} token, not a Bearer token`,
        res.status,
        null,
      );
    const lifetime = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 3600;
    const margin = Math.min(this.options.expiryMarginMs ?? 60_000, (lifetime * 1000) / 2);
    return { token: json.access_token, expiresAt: Date.now() + lifetime * 1000 - margin };
  }
}
