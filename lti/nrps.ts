import { z } from 'zod';
import { ROSTER_SYNC_DEFAULTS } from '../src/config.js';
import {
  RosterFetchError,
  type RosterFetcher,
  type RosterFetchFault,
  type RosterFetchRequest,
  type RosterSnapshot,
} from '../src/domain/roster-sync.js';
import type { RosterMember } from '../src/domain/roster-sync-apply.js';
import { membershipRoles } from './roles.js';
import { retryAfterSeconds, ServiceTokenError, type ServiceTokens } from './service-token.js';

/**
 * LTI Names and Role Provisioning Services 2.0, the tool side (LTI-NOTES §2, checklist §6.2):
 * GET the context_memberships_url (or the differences URL of an earlier sync) with a bearer token
 * for the contextmembership.readonly scope, follow `Link: rel="next"` until it is absent — only on
 * the memberships URL's own origin, so the token never leaves it — and keep `rel="differences"`.
 * Every request is retried with exponential backoff (Retry-After honoured, capped) on a refused
 * token, 429, 5xx, a timeout, a network failure or a malformed page; the whole roster is returned
 * only once every page is in, so a sync never applies part of one.
 */
export const NRPS_SCOPE = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly';
export const NRPS_CLAIM = 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice';
export const NRPS_MEDIA_TYPE = 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json';

/** Settings the operator tunes (config.rosterSync.nrps); unset ones are ROSTER_SYNC_DEFAULTS.nrps. */
export interface NrpsClientOptions {
  tokens: ServiceTokens;
  fetch?: typeof fetch;
  /** Per request (default 15 s). */
  timeoutMs?: number;
  /** Attempts per request before the sync fails (default 5). */
  maxAttempts?: number;
  /** First backoff; doubled each retry, with jitter (default 1 s). */
  baseDelayMs?: number;
  /** No single wait is longer, Retry-After included (default 60 s). */
  maxDelayMs?: number;
  /** Pages followed before the roster is refused as runaway (default 1,000). */
  maxPages?: number;
  /** Members accepted in one roster (default 100,000). */
  maxMembers?: number;
  /** A page body larger than this is refused (default 20 MB). */
  maxPageBytes?: number;
  sleep?: (ms: number) => Promise<void>;
}

const str = z.string().max(1000).nullish();
const Member = z
  .object({
    user_id: z.string().min(1).max(255),
    roles: z.array(z.string().max(1000)),
    status: z
      .preprocess(
        (v) => (typeof v === 'string' ? v.charAt(0).toUpperCase() + v.slice(1).toLowerCase() : v),
        z.enum(['Active', 'Inactive', 'Deleted']),
      )
      .optional(),
    name: str,
    given_name: str,
    family_name: str,
    email: str,
    lis_person_sourcedid: str,
    message: z.array(z.record(z.string(), z.unknown())).nullish(),
  })
  .loose();
const Container = z
  .object({
    id: z.string().optional(),
    context: z.object({ id: z.string() }).loose().optional(),
    members: z.array(Member),
  })
  .loose();

const CUSTOM = 'https://purl.imsglobal.org/spec/lti/claim/custom';

function toMember(m: z.infer<typeof Member>): RosterMember {
  const custom = m.message?.[0]?.[CUSTOM];
  return {
    userId: m.user_id,
    roles: membershipRoles(m.roles),
    status: m.status ?? 'Active',
    name: m.name ?? null,
    givenName: m.given_name ?? null,
    familyName: m.family_name ?? null,
    email: m.email ?? null,
    sourcedId: m.lis_person_sourcedid ?? null,
    custom: custom && typeof custom === 'object' ? (custom as Record<string, unknown>) : null,
  };
}

/** `Link` header (RFC 8288) → rel → absolute URL; several rels in one link each map to it. */
export function parseLinkHeader(header: string | null, base: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]);
    if (!rel) continue;
    let url: string;
    try {
      url = new URL(m[1], base).toString();
    } catch {
      continue;
    }
    for (const r of (rel[1] ?? rel[2]).toLowerCase().split(/\s+/)) if (r && !out.has(r)) out.set(r, url);
  }
  return out;
}

class Fault extends Error {
  constructor(
    readonly fault: RosterFetchFault,
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs: number | null = null,
    readonly dropToken = false,
  ) {
    super(message);
  }
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function nrpsFetcher(options: NrpsClientOptions): RosterFetcher {
  const defaults = ROSTER_SYNC_DEFAULTS.nrps;
  const doFetch = options.fetch ?? fetch;
  const maxAttempts = options.maxAttempts ?? defaults.maxAttempts;
  const baseDelay = options.baseDelayMs ?? defaults.baseDelayMs;
  const maxDelay = options.maxDelayMs ?? defaults.maxDelayMs;
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
  const maxPages = options.maxPages ?? defaults.maxPages;
  const maxMembers = options.maxMembers ?? defaults.maxMembers;
  const maxPageBytes = options.maxPageBytes ?? defaults.maxPageBytes;
  const sleep = options.sleep ?? defaultSleep;

  async function page(req: RosterFetchRequest, url: string) {
    let token: string;
    try {
      token = await options.tokens.get(req.platform, [NRPS_SCOPE]);
    } catch (err) {
      if (!(err instanceof ServiceTokenError)) throw err;
      const rate = err.status === 429;
      throw new Fault(
        rate ? 'rate_limited' : err.status === null ? (err.timedOut ? 'timeout' : 'network') : 'token_refused',
        err.message,
        true,
        err.retryAfterSeconds !== null ? err.retryAfterSeconds * 1000 : null,
      );
    }
    let res: Response;
    try {
      res = await doFetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: NRPS_MEDIA_TYPE },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new Fault(
        timedOut ? 'timeout' : 'network',
        timedOut
          ? `The roster request timed out (${url})`
          : `The roster could not be fetched (${url}): ${(err as Error).message}`,
        true,
      );
    }
    const text = await res.text().catch(() => '');
    const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
    if (res.status === 401)
      throw new Fault('token_refused', 'The platform did not accept the access token', true, null, true);
    // Canvas answers a throttled request with 403 "Rate Limit Exceeded" (LTI-NOTES §2.4).
    if (res.status === 429 || (res.status === 403 && /rate limit/i.test(text)))
      throw new Fault(
        'rate_limited',
        `The platform is rate limiting roster requests (HTTP ${res.status})`,
        true,
        retryAfter !== null ? retryAfter * 1000 : null,
      );
    if (res.status >= 500)
      throw new Fault(
        'server_error',
        `The platform failed to serve the roster (HTTP ${res.status})`,
        true,
        retryAfter !== null ? retryAfter * 1000 : null,
      );
    if (!res.ok) throw new Fault('refused', `The platform refused the roster request (HTTP ${res.status})`, false);
    if (text.length > maxPageBytes) throw new Fault('too_large', 'A roster page is larger than allowed', false);
    let parsed: z.infer<typeof Container>;
    try {
      parsed = Container.parse(JSON.parse(text));
    } catch (err) {
      const why = err instanceof z.ZodError ? z.prettifyError(err).split('\n').slice(0, 3).join('; ') : 'not JSON';
      throw new Fault('malformed', `A roster page is not a membership container (${why})`, true);
    }
    return { members: parsed.members.map(toMember), links: parseLinkHeader(res.headers.get('link'), url) };
  }

  return async function fetchRoster(req: RosterFetchRequest): Promise<RosterSnapshot> {
    const mode = req.differencesUrl ? 'differences' : 'full';
    const first = req.differencesUrl ?? req.membershipsUrl;
    const origin = new URL(req.membershipsUrl).origin;
    if (new URL(first).origin !== origin)
      throw new RosterFetchError('refused', 'The differences link points away from the roster service', 0);
    const members: RosterMember[] = [];
    const seen = new Set<string>();
    let differencesUrl: string | null = null;
    let attempts = 0;
    let url: string | null = first;
    let pages = 0;
    while (url) {
      if (++pages > maxPages || seen.has(url))
        throw new RosterFetchError('too_large', `The roster did not end after ${pages - 1} pages`, attempts);
      seen.add(url);
      let got: Awaited<ReturnType<typeof page>> | undefined;
      for (let attempt = 1; !got; attempt++) {
        attempts++;
        try {
          got = await page(req, url);
        } catch (err) {
          if (!(err instanceof Fault)) throw err;
          if (err.dropToken) options.tokens.drop(req.platform, [NRPS_SCOPE]);
          if (!err.retryable || attempt >= maxAttempts)
            throw new RosterFetchError(
              err.fault,
              attempt > 1 ? `${err.message}; gave up after ${attempt} attempts` : err.message,
              attempts,
            );
          const backoff = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5));
          await sleep(err.retryAfterMs !== null ? Math.min(maxDelay, Math.max(err.retryAfterMs, backoff)) : backoff);
        }
      }
      members.push(...got.members);
      if (members.length > maxMembers)
        throw new RosterFetchError('too_large', 'The roster has more members than allowed', attempts);
      differencesUrl = got.links.get('differences') ?? differencesUrl;
      const next = got.links.get('next') ?? null;
      if (next && new URL(next).origin !== origin)
        throw new RosterFetchError('refused', `A next link points away from the roster service (${next})`, attempts);
      url = next;
    }
    if (differencesUrl && new URL(differencesUrl).origin !== origin) differencesUrl = null;
    return { mode, members, differencesUrl, attempts };
  };
}
