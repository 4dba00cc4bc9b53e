/** @jsxImportSource hono/jsx */
import { type Context, Hono } from 'hono';
import type { Config } from '../../config.js';
import type { ActorContext, Store } from '../../db/store.js';
import { auditLines } from '../../domain/admin-session-audit.js';
import {
  type AdminSessionView,
  endAdminSession,
  isLmsAdministrator,
  resolveAdminSession,
  startAdminSession,
} from '../../domain/admin-sessions.js';
import { tenantFrameOrigins } from '../../domain/course-page.js';
import { listPlatforms } from '../../domain/platforms.js';
import { listLaunchLog } from '../../domain/launch-log.js';
import { SEAT_STATUSES } from '../../domain/people.js';
import { searchPeople } from '../../domain/people-search.js';
import { lastScimSuccess, listProvisioningLog, peopleByStatus } from '../../domain/provisioning-log.js';
import { getTenantById } from '../../domain/tenants.js';
import { createToken, listTokens, parseDuration, revokeToken, type TokenResolver } from '../../domain/tokens.js';
import { AppError, UnauthorizedError } from '../../errors.js';
import type { SessionPrincipal } from '../../http/context.js';
import { htmlResponse, newNonce } from '../html.js';
import { AdminPage, type AdminPageData, NotAnAdminPage, SignedOutPage, SignInPage } from './pages.js';
import { adminCookie, clearAdminCookie, csrfMatches, csrfToken, sameOrigin, setAdminCookie } from './session.js';

/**
 * /app/admin: the school admin page. GET renders it for a signed-in tenant admin; a browser that
 * carries an LTI launch session of an LMS administrator is signed in on the spot; one carrying a
 * launch session without that role gets 403; nobody signed in gets 401 (no form: a link to the
 * sign-in page). Writes are form posts carrying the CSRF token.
 */
export interface AdminPageDeps {
  config: Config;
  store: Store;
  tokens: TokenResolver;
  /** Verifies the LTI launch session cookie (lti/session.ts); throws when it is not valid. */
  launchSession: (c: Context) => Promise<SessionPrincipal | null>;
  /** Makes a one-time Dynamic Registration link (lti/registration.ts). */
  registrationLink: (tenantId: string) => Promise<{ url: string; expiresAt: Date }>;
}

type Status = 200 | 400 | 401 | 403;

const NOTICES: Record<string, string> = {
  revoked: 'The SCIM token was revoked: your identity provider can no longer use it.',
  'signed-in': 'You are signed in.',
};

export function adminPageRoutes(deps: AdminPageDeps) {
  const { config, store } = deps;
  const app = new Hono();

  /** Signed-in pages may be framed by the school's LMSs (an administrator's launch); the others by this site only. */
  async function html(c: Context, node: unknown, nonce: string, status: Status, tenantId: string | null) {
    const frameAncestors = tenantId ? await tenantFrameOrigins(store, tenantId) : [];
    return htmlResponse(c, node, { nonce, frameAncestors }, status);
  }
  const nonce = newNonce;
  const actor = (c: Context, s: AdminSessionView): ActorContext => ({ actor: s.actor, requestId: c.get('requestId') });

  /** The signed-in session, or the response to give instead (401, or 403 for a launch without the role). */
  async function signedIn(c: Context, allowLaunch: boolean): Promise<AdminSessionView | Response> {
    const secret = adminCookie(c);
    const session = await resolveAdminSession(store, secret);
    if (session) return session;
    if (allowLaunch) {
      const launch = await deps.launchSession(c).catch(() => null);
      if (launch?.personId && isLmsAdministrator(launch.roles)) {
        const started = await startAdminSession(
          store,
          { actor: `person:${launch.personId}`, requestId: c.get('requestId') },
          { tenantId: launch.tenantId, via: 'lti', personId: launch.personId },
        );
        setAdminCookie(c, config, started.secret, 'lti', started.expiresAt);
        const s = await resolveAdminSession(store, started.secret);
        if (s) return s;
      } else if (launch) {
        const n = nonce();
        return html(c, <NotAnAdminPage nonce={n} />, n, 403, launch.tenantId);
      }
    }
    if (secret) clearAdminCookie(c, config);
    const n = nonce();
    return html(c, <SignedOutPage nonce={n} />, n, 401, null);
  }

  /** A write: signed in, same origin, and the form's CSRF token matches the session cookie. */
  async function writer(c: Context): Promise<{ session: AdminSessionView; form: Record<string, string> } | Response> {
    const s = await signedIn(c, false);
    if (s instanceof Response) return s;
    const form = await readForm(c);
    if (!sameOrigin(c, config) || !csrfMatches(adminCookie(c)!, form.csrf)) {
      const n = nonce();
      return html(
        c,
        <AdminPage
          {...(await pageData(c, s, n, {}))}
          error="This form has expired or did not come from this page. Nothing was changed; try again."
        />,
        n,
        403,
        s.tenantId,
      );
    }
    return { session: s, form };
  }

  async function pageData(
    c: Context,
    s: AdminSessionView,
    n: string,
    extra: Partial<AdminPageData>,
  ): Promise<AdminPageData> {
    const q = c.req.method === 'GET' ? c.req.query() : {};
    const num = (v: string | undefined) => (v && /^\d{1,18}$/.test(v) ? Number(v) : undefined);
    const text = (q.q ?? '').trim().slice(0, 200);
    const after = q.peopleAfter && /^[0-9a-f-]{36}$/i.test(q.peopleAfter) ? q.peopleAfter : undefined;
    const [tenant, people, lastScim, tokens, scimLog, launchLog, platforms, audit, search] = await Promise.all([
      getTenantById(store, s.tenantId),
      peopleByStatus(store, s.tenantId),
      lastScimSuccess(store, s.tenantId),
      listTokens(store, s.tenantId),
      listProvisioningLog(store, s.tenantId, {
        before: num(q.scimBefore),
        failedOnly: q.scimFailed === '1',
        limit: 25,
      }),
      listLaunchLog(store, s.tenantId, { before: num(q.launchBefore), failedOnly: q.launchFailed === '1', limit: 25 }),
      listPlatforms(store, s.tenantId),
      auditLines(store, s.tenantId, { before: num(q.auditBefore), limit: 25 }),
      text || q.q !== undefined ? searchPeople(store, s.tenantId, { text, after, limit: 25 }) : null,
    ]);
    const query: Record<string, string> = {};
    for (const k of ['q', 'scimFailed', 'launchFailed']) if (q[k]) query[k] = q[k];
    return {
      nonce: n,
      csrf: csrfToken(adminCookie(c) ?? ''),
      publicUrl: config.publicUrl,
      who: s.who,
      tenantName: tenant.name,
      notice: q.done ? (NOTICES[q.done] ?? null) : null,
      seatLimit: tenant.seatLimit,
      seatsUsed: SEAT_STATUSES.reduce((sum, st) => sum + (people[st] ?? 0), 0),
      people,
      lastScimSuccess: lastScim,
      tokens: tokens.filter((t) => t.kind === 'scim'),
      scimLog,
      scimFailedOnly: q.scimFailed === '1',
      launchLog,
      launchFailedOnly: q.launchFailed === '1',
      platforms,
      audit,
      search: search ? { q: text, items: search.items, next: search.next } : null,
      query,
      ...extra,
    };
  }

  async function renderPage(c: Context, s: AdminSessionView, extra: Partial<AdminPageData> = {}, status: Status = 200) {
    const n = nonce();
    return html(c, <AdminPage {...(await pageData(c, s, n, extra))} />, n, status, s.tenantId);
  }

  app.get('/', async (c) => {
    const s = await signedIn(c, true);
    if (s instanceof Response) return s;
    return renderPage(c, s);
  });

  app.get('/sign-in', async (c) => {
    const n = nonce();
    return html(c, <SignInPage nonce={n} />, n, 200, null);
  });

  app.post('/sign-in', async (c) => {
    const n = nonce();
    if (!sameOrigin(c, config))
      return html(c, <SignInPage nonce={n} error="This sign-in did not come from this site." />, n, 403, null);
    const form = await readForm(c);
    const presented = (form.token ?? '').trim();
    let tokenId: string;
    let tenantId: string;
    try {
      if (!presented) throw new UnauthorizedError('Paste an admin token to sign in');
      const resolved = await deps.tokens.resolve(`Bearer ${presented}`, 'admin');
      tokenId = resolved.tokenId;
      tenantId = resolved.tenant.id;
    } catch (err) {
      if (!(err instanceof AppError) || !err.expose) throw err;
      const status = err.code === 'forbidden' ? 403 : 401;
      return html(c, <SignInPage nonce={n} error={signInWords(err.message)} />, n, status, null);
    }
    const started = await startAdminSession(
      store,
      { actor: `token:${tokenId}`, requestId: c.get('requestId') },
      { tenantId, via: 'token', tokenId },
    );
    setAdminCookie(c, config, started.secret, 'token', started.expiresAt);
    return c.redirect('/app/admin', 303);
  });

  app.post('/sign-out', async (c) => {
    const w = await writer(c);
    if (w instanceof Response) return w;
    await endAdminSession(store, actor(c, w.session), w.session);
    clearAdminCookie(c, config);
    return c.redirect('/app/admin/sign-in', 303);
  });

  app.post('/scim-tokens', async (c) => {
    const w = await writer(c);
    if (w instanceof Response) return w;
    const name = (w.form.name ?? '').trim().slice(0, 100);
    try {
      if (!name)
        throw new AppError('validation_failed', 'Give the token a name, such as the identity provider it is for');
      const expires = w.form.expires ? new Date(Date.now() + parseDuration(w.form.expires)) : null;
      const made = await createToken(store, actor(c, w.session), {
        tenantId: w.session.tenantId,
        kind: 'scim',
        name,
        expiresAt: expires,
      });
      return renderPage(c, w.session, { newToken: { name: made.view.name, secret: made.token } });
    } catch (err) {
      if (!(err instanceof AppError) || !err.expose) throw err;
      return renderPage(c, w.session, { error: err.message }, 400);
    }
  });

  app.post('/scim-tokens/revoke', async (c) => {
    const w = await writer(c);
    if (w instanceof Response) return w;
    const id = w.form.token ?? '';
    const scimTokens = (await listTokens(store, w.session.tenantId)).filter((t) => t.kind === 'scim');
    if (!scimTokens.some((t) => t.id === id))
      return renderPage(c, w.session, { error: 'That SCIM token is not one of this school’s.' }, 400);
    await revokeToken(store, actor(c, w.session), w.session.tenantId, id);
    return c.redirect('/app/admin?done=revoked#tokens-h', 303);
  });

  app.post('/registration-links', async (c) => {
    const w = await writer(c);
    if (w instanceof Response) return w;
    const link = await deps.registrationLink(w.session.tenantId);
    return renderPage(c, w.session, {
      newRegistrationLink: { url: link.url, expiresAt: link.expiresAt.toISOString() },
    });
  });

  return app;
}

async function readForm(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return {};
  const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The token resolver's reasons, as the sign-in form says them. */
function signInWords(message: string): string {
  if (/Malformed/i.test(message)) return 'That is not an admin token: it should start with rb_admin_.';
  if (/Unknown/i.test(message)) return 'That token is not known here. Check you copied all of it.';
  if (/revoked/i.test(message)) return 'That token has been revoked.';
  if (/expired/i.test(message)) return 'That token has expired.';
  if (/needs a admin token/i.test(message)) return 'That is a SCIM token; the admin page needs an admin token.';
  return message;
}
