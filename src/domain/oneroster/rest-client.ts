import { UpstreamError } from '../../errors.js';
import { type FetchLike, guardedFetch } from '../outbound-fetch.js';
import { PRIVATE_ADDRESS } from '../outbound-target.js';
import { ROSTERING_SCOPE } from './vocabulary.js';

/**
 * A client of a OneRoster 1.2 rostering REST API: an OAuth 2 client-credentials token (client
 * authenticated with HTTP Basic, scope roster.readonly), then each collection read page by page
 * with `limit`/`offset` until a short page (or X-Total-Count) says it is complete. 429 and 5xx are
 * retried with backoff (Retry-After honoured up to a bound); anything else is an UpstreamError.
 * Requests connect only to public addresses unless allowPrivateTargets (outbound-target.ts): the
 * URLs were checked when configured, and DNS may have changed since.
 */
export interface RestSettings {
  baseUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string | null;
  pageSize: number;
}

export interface RestDeps {
  /** Allow loopback, private and link-local addresses (ONEROSTER_ALLOW_PRIVATE_TARGETS); default no. */
  allowPrivateTargets?: boolean;
  /** Replaces the guarded fetch (and its address check) entirely. */
  fetch?: FetchLike;
  /** Waits between retries (tests pass a no-op). */
  sleep?: (ms: number) => Promise<void>;
  timeoutMs?: number;
}

const RETRIES = 3;
const MAX_RETRY_AFTER_MS = 30_000;

export class OneRosterRestClient {
  private token: { value: string; expiresAt: number } | null = null;
  private readonly fetch: FetchLike;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly timeoutMs: number;

  constructor(
    private readonly settings: RestSettings,
    deps: RestDeps = {},
  ) {
    this.fetch = deps.fetch ?? guardedFetch(deps.allowPrivateTargets ?? false);
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.timeoutMs = deps.timeoutMs ?? 30_000;
  }

  private async send(url: string, init: RequestInit, what: string): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (err) {
        // A refused address stays refused: no point retrying it.
        if ((err as NodeJS.ErrnoException).code === PRIVATE_ADDRESS)
          throw new UpstreamError(`OneRoster API: ${what} was refused: ${(err as Error).message}`, { cause: err });
        if (attempt < RETRIES) {
          await this.sleep(250 * 2 ** attempt);
          continue;
        }
        throw new UpstreamError(`OneRoster API: ${what} failed: ${(err as Error).message}`, { cause: err });
      }
      if ((res.status === 429 || res.status >= 500) && attempt < RETRIES) {
        const after = Number(res.headers.get('retry-after'));
        await res.body?.cancel();
        await this.sleep(
          Number.isFinite(after) && after > 0 ? Math.min(after * 1000, MAX_RETRY_AFTER_MS) : 250 * 2 ** attempt,
        );
        continue;
      }
      return res;
    }
  }

  async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now() + 5_000) return this.token.value;
    const { tokenUrl, clientId, clientSecret, scope } = this.settings;
    const res = await this.send(
      tokenUrl,
      {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: scope ?? ROSTERING_SCOPE }).toString(),
      },
      'the token request',
    );
    const body = (await res.json().catch(() => null)) as { access_token?: unknown; expires_in?: unknown } | null;
    if (!res.ok || typeof body?.access_token !== 'string')
      throw new UpstreamError(
        `OneRoster API: the token endpoint answered ${res.status}${res.ok ? ' without an access_token' : ''}`,
      );
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    this.token = { value: body.access_token, expiresAt: Date.now() + ttl * 1000 };
    return this.token.value;
  }

  /** Every record of one collection (`users`, `classes`…), page by page. */
  async *collection(name: string): AsyncGenerator<Record<string, unknown>[]> {
    const limit = this.settings.pageSize;
    for (let offset = 0; ; offset += limit) {
      const url = new URL(`${this.settings.baseUrl.replace(/\/+$/, '')}/${name}`);
      url.searchParams.set('limit', String(limit));
      url.searchParams.set('offset', String(offset));
      let res = await this.page(url);
      if (res.status === 401) {
        // An expired or revoked token: one fresh token, then the page once more.
        this.token = null;
        await res.body?.cancel();
        res = await this.page(url);
      }
      if (!res.ok) throw new UpstreamError(`OneRoster API: GET /${name} answered ${res.status}`);
      const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
      const records = body?.[name];
      if (!Array.isArray(records) || records.some((r) => !r || typeof r !== 'object'))
        throw new UpstreamError(`OneRoster API: GET /${name} did not answer {"${name}": [...]}`);
      yield records as Record<string, unknown>[];
      const total = Number(res.headers.get('x-total-count'));
      if (records.length < limit || (Number.isFinite(total) && total > 0 && offset + limit >= total)) return;
    }
  }

  private async page(url: URL): Promise<Response> {
    const token = await this.accessToken();
    return this.send(
      url.toString(),
      { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      `GET ${url.pathname}`,
    );
  }
}
