import { jwtVerify, SignJWT, decodeProtectedHeader } from 'jose';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { QueryTypes } from 'sequelize';
import type { Store } from '../src/db/store.js';
import { UnauthorizedError } from '../src/errors.js';
import type { SessionPrincipal } from '../src/http/context.js';
import '../src/http/context.js';
import { LtiError } from './errors.js';
import { ToolKeys } from './keys.js';
import { randomToken, sha256 } from './state.js';

/**
 * Launch sessions: a short-lived JWT signed with the tool's active key (RS256), carrying
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

export async function issueSession(store: Store, issuer: string, p: SessionPrincipal, ttlSeconds = SESSION_TTL_SECONDS): Promise<{ token: string; expiresAt: Date }> {
  const { kid, privateKey } = await toolKeysFor(store).signingKey();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ tid: p.tenantId, cid: p.courseId, roles: p.roles })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(SESSION_AUDIENCE)
    .setSubject(p.personId ?? 'anonymous')
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .setJti(randomToken(12))
    .sign(privateKey);
  return { token, expiresAt: new Date((now + ttlSeconds) * 1000) };
}

export async function verifySession(store: Store, issuer: string, token: string): Promise<SessionPrincipal> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new UnauthorizedError('Malformed session token');
  }
  const key = kid ? await toolKeysFor(store).publicKey(kid) : undefined;
  if (!key) throw new UnauthorizedError('Session token signed by an unknown key');
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['RS256'], issuer, audience: SESSION_AUDIENCE, clockTolerance: 30 });
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    if (typeof payload.tid !== 'string' || typeof payload.sub !== 'string') throw new Error('missing claims');
    return {
      tenantId: payload.tid,
      personId: payload.sub === 'anonymous' ? null : payload.sub,
      courseId: typeof payload.cid === 'string' ? payload.cid : null,
      roles,
    };
  } catch (err) {
    const expired = (err as { code?: string }).code === 'ERR_JWT_EXPIRED';
    throw new UnauthorizedError(expired ? 'Session has expired; launch the tool again' : 'Invalid session token');
  }
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
    const bearer = header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const presented = bearer && !bearer.startsWith('rb_') ? bearer : getCookie(c, SESSION_COOKIE);
    if (!presented) {
      if (options.optional) return next();
      throw new UnauthorizedError('Missing session: launch the tool from your course');
    }
    c.set('session', await verifySession(options.store, options.issuer, presented));
    await next();
  };
}

/** A one-time ticket the launched page redeems for a bearer session (LTI-NOTES §6.1). */
export async function createTicket(
  store: Store,
  p: SessionPrincipal,
  redirectTo: string,
  stateCheck: string | null,
): Promise<string> {
  const ticket = randomToken();
  await store.sequelize.query(
    `INSERT INTO lti_tickets (ticket_hash, tenant_id, session, redirect_to, state_check, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
    { bind: [sha256(ticket), p.tenantId, JSON.stringify(p), redirectTo, stateCheck ? sha256(stateCheck) : null, new Date(Date.now() + TICKET_TTL_MS)] },
  );
  return ticket;
}

/** Redeems a ticket once; a ticket issued for the platform-storage flow also needs its state. */
export async function redeemTicket(store: Store, ticket: string, state: string | undefined): Promise<{ principal: SessionPrincipal; redirectTo: string }> {
  const [row] = await store.sequelize.query<{ session: SessionPrincipal; redirect_to: string; state_check: string | null }>(
    `UPDATE lti_tickets SET used_at = now() WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > now()
       AND (state_check IS NULL OR state_check = $2)
     RETURNING session, redirect_to, state_check`,
    { bind: [sha256(ticket), state ? sha256(state) : ''], type: QueryTypes.SELECT },
  );
  if (!row) throw new LtiError('ticket', 'This launch ticket is unknown, expired or already used; launch the tool again', 401);
  return { principal: row.session, redirectTo: row.redirect_to };
}
