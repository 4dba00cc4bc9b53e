import { jwtVerify, decodeProtectedHeader } from 'jose';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Store } from '../src/db/store.js';
import { redeemTicketOnce } from '../src/domain/lti-states.js';
import { assertSessionStanding } from '../src/domain/session-standing.js';
import { UnauthorizedError } from '../src/errors.js';
import type { SessionPrincipal } from '../src/http/context.js';
import '../src/http/context.js';
import { LtiError } from './errors.js';
import { ToolKeys } from './keys.js';
import { hmacSha256, randomToken, safeEqual, sha256 } from './state.js';

/**
 * Launch sessions: a short-lived JWT (HS256 under a secret derived from the tool's active key pair,
 * see ToolKeys.sessionSecret; the header kid names the key), carrying
 * {tenantId, personId, courseId, roles}. Sent as an HttpOnly cookie and, for iframes whose
 * third-party cookies are blocked, handed to the page as a bearer token through a one-time ticket.
 */
export const SESSION_COOKIE = 'rb_session';
export const SESSION_AUDIENCE = 'rosterbridge:session';
export const SESSION_TTL_SECONDS = 60 * 60;
const TICKET_TTL_MS = 60_000;

const keysByStore = new WeakMap<Store, ToolKeys>();
/** One ToolKeys (and its cache) per database, shared by the LTI routes and every sessionAuth. */
export function toolKeysFor(store: Store): ToolKeys {
  let k = keysByStore.get(store);
  if (!k) keysByStore.set(store, (k = new ToolKeys(store)));
  return k;
}

const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * A compact HS256 JWS, as jose's SignJWT would produce it, but MACed synchronously (node:crypto;
 * see hmacSha256 in state.ts: WebCrypto's HMAC costs ~0.33 ms of CPU per call). Verified by jose.
 */
function signHs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: CryptoKey): string {
  const input = `${b64json({ alg: 'HS256', ...header })}.${b64json(payload)}`;
  return `${input}.${hmacSha256(secret, input).toString('base64url')}`;
}

export async function issueSession(
  store: Store,
  issuer: string,
  p: SessionPrincipal,
  ttlSeconds = SESSION_TTL_SECONDS,
): Promise<{ token: string; expiresAt: Date }> {
  const { kid, secret } = (await toolKeysFor(store).sessionSecret())!;
  const now = Math.floor(Date.now() / 1000);
  const token = signHs256(
    { kid, typ: 'JWT' },
    {
      tid: p.tenantId,
      cid: p.courseId,
      roles: p.roles,
      iss: issuer,
      aud: SESSION_AUDIENCE,
      sub: p.personId ?? 'anonymous',
      iat: now,
      exp: now + ttlSeconds,
      jti: randomToken(12),
    },
    secret,
  );
  return { token, expiresAt: new Date((now + ttlSeconds) * 1000) };
}

export async function verifySession(store: Store, issuer: string, token: string): Promise<SessionPrincipal> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new UnauthorizedError('Malformed session token');
  }
  const key = kid ? await toolKeysFor(store).sessionSecret(kid) : undefined;
  if (!key) throw new UnauthorizedError('Session token signed by an unknown key');
  let session: SessionPrincipal;
  try {
    const { payload } = await jwtVerify(token, key.secret, {
      algorithms: ['HS256'],
      issuer,
      audience: SESSION_AUDIENCE,
      clockTolerance: 30,
    });
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    if (typeof payload.tid !== 'string' || typeof payload.sub !== 'string') throw new Error('missing claims');
    session = {
      tenantId: payload.tid,
      personId: payload.sub === 'anonymous' ? null : payload.sub,
      courseId: typeof payload.cid === 'string' ? payload.cid : null,
      roles,
    };
  } catch (err) {
    const expired = (err as { code?: string }).code === 'ERR_JWT_EXPIRED';
    throw new UnauthorizedError(expired ? 'Session has expired; launch the tool again' : 'Invalid session token');
  }
  // Signed for an hour, but a suspended person or school loses it within seconds.
  if (session.personId) await assertSessionStanding(store, session.tenantId, session.personId);
  return session;
}

export interface SessionAuthOptions {
  store: Store;
  /** The service's public URL (config.publicUrl): the sessions' issuer. */
  issuer: string;
  /** When true, requests without a session pass through without c.var.session. */
  optional?: boolean;
}

/**
 * Hono middleware: verifies a launch session from `Authorization: Bearer <jwt>` (API tokens, which
 * start with `rb_`, are left to requireToken) or from the rb_session cookie, and sets
 * c.var.session. Missing or invalid → 401, unless `optional` and nothing was presented.
 */
export function sessionAuth(options: SessionAuthOptions): MiddlewareHandler {
  return async function sessionAuth(c, next) {
    const header = c.req.header('authorization');
    const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const presented = bearer && !bearer.startsWith('rb_') ? bearer : getCookie(c, SESSION_COOKIE);
    if (!presented) {
      if (options.optional) return next();
      throw new UnauthorizedError('Missing session: launch the tool from your course');
    }
    c.set('session', await verifySession(options.store, options.issuer, presented));
    await next();
  };
}

/**
 * A one-time ticket the launched page redeems for a bearer session (LTI-NOTES §6.1). The ticket is
 * itself signed (60 s), so the launch writes nothing for it; single use is enforced when it is
 * redeemed, by recording its id. A platform-storage ticket also binds the state the page must
 * prove it read back from platform storage.
 */
export const TICKET_AUDIENCE = 'rosterbridge:ticket';

export async function createTicket(
  store: Store,
  issuer: string,
  p: SessionPrincipal,
  redirectTo: string,
  stateCheck: string | null,
): Promise<string> {
  const { kid, secret } = (await toolKeysFor(store).sessionSecret())!;
  const now = Math.floor(Date.now() / 1000);
  return signHs256(
    { kid },
    {
      p,
      rt: redirectTo,
      ...(stateCheck ? { sc: sha256(stateCheck) } : {}),
      iss: issuer,
      aud: TICKET_AUDIENCE,
      iat: now,
      exp: now + TICKET_TTL_MS / 1000,
      jti: randomToken(16),
    },
    secret,
  );
}

const badTicket = () =>
  new LtiError('ticket', 'This launch ticket is unknown, expired or already used; launch the tool again', 401);

/** Redeems a ticket once; a ticket issued for the platform-storage flow also needs its state. */
export async function redeemTicket(
  store: Store,
  issuer: string,
  ticket: string,
  state: string | undefined,
): Promise<{ principal: SessionPrincipal; redirectTo: string }> {
  let claims: { p?: SessionPrincipal; rt?: string; sc?: string; jti?: string; exp?: number };
  try {
    const kid = decodeProtectedHeader(ticket).kid;
    const key = kid ? await toolKeysFor(store).sessionSecret(kid) : undefined;
    if (!key) throw badTicket();
    claims = (await jwtVerify(ticket, key.secret, { algorithms: ['HS256'], issuer, audience: TICKET_AUDIENCE }))
      .payload as typeof claims;
  } catch {
    throw badTicket();
  }
  const { p, rt, sc, jti, exp } = claims;
  if (!p || typeof p.tenantId !== 'string' || typeof rt !== 'string' || typeof jti !== 'string') throw badTicket();
  if (sc !== undefined && (!state || !safeEqual(sha256(state), sc))) throw badTicket();
  const fresh = await redeemTicketOnce(store, {
    ticketHash: sha256(jti),
    tenantId: p.tenantId,
    session: p,
    redirectTo: rt,
    stateCheck: sc ?? null,
    expiresAt: new Date((exp ?? 0) * 1000),
  });
  if (!fresh) throw badTicket();
  return { principal: p, redirectTo: rt };
}
