import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Config } from '../src/config.js';
import type { ActorContext, Store } from '../src/db/store.js';
import { launchResource, type LaunchCourseClaim } from '../src/domain/launch.js';
import { noteFrameOrigins, platformFrameOrigins } from '../src/domain/platforms.js';
import { adminLanding, launchRefusalLog, noteLaunch } from '../src/http/api-admin-hooks.js';
import type { RosterLaunch } from '../src/domain/roster-sync-runner.js';
import { NRPS_CLAIM } from './nrps.js';
import type { SessionPrincipal } from '../src/http/context.js';
import { CLAIM } from './claims.js';
import { signDeepLinkingResponse } from './deep-linking.js';
import { LtiError } from './errors.js';

export { renderLtiError } from './errors.js';
import { JwksCache } from './jwks-cache.js';
import { startLogin, type LoginParams } from './login.js';
import {
  cspHeader,
  DeepLinkResponsePage,
  RegistrationDonePage,
  renderPage,
  StorageLoginPage,
  StorageVerifyPage,
} from './pages.js';
import { completeRegistration } from './registration.js';
import { isCourseStaff, membershipRoles } from './roles.js';
import {
  createTicket,
  issueSession,
  redeemTicket,
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  sessionAuth,
  toolKeysFor,
} from './session.js';
import { STATE_TTL_MS, stateCookieName, sweepExpired } from './state.js';
import { RegistryCache } from './registry-cache.js';
import { consumeLaunch, nonceExpiry, validateLaunch, type ValidatedLaunch } from './validate-launch.js';

export interface LtiDeps {
  config: Config;
  store: Store;
  /** Platform key sets; tests pass one with a short refetch interval. */
  jwks?: JwksCache;
  /** Told of each course launch (NRPS roster sync): returns at once, works in the background. */
  roster?: { afterLaunch(launch: RosterLaunch): void };
}

const LIS = CLAIM.lis;
const actorFor = (c: Context, who: string): ActorContext => ({ actor: who, requestId: c.get('requestId') });

function cookieOptions(config: Config, path: string, maxAge: number) {
  const secure = config.publicUrl.startsWith('https://');
  // SameSite=None needs Secure; over plain http (development, tests) Lax is the best browsers allow.
  return {
    path,
    httpOnly: true,
    secure,
    sameSite: secure ? ('None' as const) : ('Lax' as const),
    partitioned: secure,
    maxAge,
  };
}

/** A page; for a known platform only its origins may frame it (platformFrameOrigins), else any page. */
function html(c: Context, body: string, nonce: string, framedBy: readonly string[] | null) {
  return c.body(body, 200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': cspHeader(nonce, framedBy ?? undefined),
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
  });
}

async function formOrQuery(c: Context): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.req.query())) if (typeof v === 'string') out[k] = v;
  if (c.req.method === 'POST') {
    const type = c.req.header('content-type') ?? '';
    if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
      throw new LtiError('request', 'Expected a form post (application/x-www-form-urlencoded)');
    }
    let body: Record<string, unknown>;
    try {
      body = await c.req.parseBody();
    } catch (err) {
      throw new LtiError('request', 'The form body could not be read', 400, { cause: err });
    }
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** The course a launch names, with the SIS keys a course created earlier may be adopted by. */
function launchCourse(launch: ValidatedLaunch): LaunchCourseClaim | null {
  if (!launch.context) return null;
  const lis = (launch.claims[LIS] ?? {}) as Record<string, unknown>;
  const sisKeys = [lis.course_offering_sourcedid, lis.course_section_sourcedid].filter(
    (k): k is string => typeof k === 'string' && k !== '',
  );
  return {
    contextId: launch.context.id,
    title: launch.context.title ?? null,
    label: launch.context.label ?? null,
    sisKeys,
  };
}

const redirectFor = (p: SessionPrincipal) =>
  isCourseStaff(p.roles) && p.courseId ? `/app/courses/${p.courseId}` : '/app/welcome';

export function ltiRoutes(deps: LtiDeps) {
  const { config, store } = deps;
  const jwks = deps.jwks ?? new JwksCache();
  const keys = toolKeysFor(store);
  const registry = new RegistryCache(store);
  const app = new Hono();
  let lastSweep = 0;

  const login = async (c: Context) => {
    const params = (await formOrQuery(c)) as LoginParams;
    const result = await startLogin(store, params, config.publicUrl, registry);
    if (Date.now() - lastSweep > 60_000) {
      lastSweep = Date.now();
      sweepExpired(store).catch((err) => c.get('logger')?.warn({ err }, 'lti sweep failed'));
    }
    setCookie(
      c,
      stateCookieName(result.state),
      result.browserSecret,
      cookieOptions(config, '/lti', STATE_TTL_MS / 1000),
    );
    if (!result.storageTarget) return c.redirect(result.authUrl, 302);
    const nonce = randomBytes(16).toString('base64');
    const page = StorageLoginPage({
      cspNonce: nonce,
      data: {
        authUrl: result.authUrl,
        authOrigin: result.authOrigin,
        storageTarget: result.storageTarget,
        state: result.state,
        nonce: result.nonce,
      },
    });
    return html(c, renderPage(page), nonce, result.frameOrigins);
  };
  app.get('/login', login);
  app.post('/login', login);

  app.use('/launch', launchRefusalLog(store));
  app.post('/launch', async (c) => {
    const form = await formOrQuery(c);
    const cookieName = form.state ? stateCookieName(form.state) : undefined;
    const launch = await validateLaunch(
      { idToken: form.id_token, state: form.state, browserSecret: cookieName ? getCookie(c, cookieName) : undefined },
      { store, jwks, registry },
    );
    if (cookieName) {
      // The state is single use: its cookie has done its job.
      const secure = config.publicUrl.startsWith('https://');
      deleteCookie(c, cookieName, { path: '/lti', secure, partitioned: secure });
    }
    const actor = actorFor(c, `lti:${launch.platform.issuer}#${launch.sub ?? 'anonymous'}`);
    const cspNonce = randomBytes(16).toString('base64');
    // The signed launch says where the LMS shows the tool; a new place is remembered (rarely a write).
    const framedBy = await noteFrameOrigins(store, actor, launch.platform, launch.claims).catch((err: unknown) => {
      c.get('logger')?.warn({ err }, 'frame origins of the launch not recorded');
      return platformFrameOrigins(launch.platform);
    });

    if (launch.messageType === 'LtiDeepLinkingRequest') {
      await consumeLaunch(store, launch);
      if (!isCourseStaff(launch.roles))
        throw new LtiError('deep_linking', 'Only course staff can add this tool to a course', 403);
      const { jwt, items } = await signDeepLinkingResponse({
        key: await keys.signingKey(),
        clientId: launch.platform.clientId,
        platformIssuer: launch.platform.issuer,
        deploymentId: launch.deploymentId,
        settings: launch.deepLinking!,
        launchUrl: `${config.publicUrl}/lti/launch`,
      });
      const page = DeepLinkResponsePage({
        cspNonce,
        returnUrl: launch.deepLinking!.deep_link_return_url,
        jwt,
        itemTitle: items[0]?.title ?? null,
      });
      return html(c, renderPage(page), cspNonce, framedBy);
    }

    // The launch use case burns the state (its nonce) first (a refusal after that leaves them burnt, so
    // the launch cannot be replayed once the school has provisioned the person).
    const result = await launchResource(store, actor, {
      issuer: launch.state.issuer,
      nonce: launch.state.nonce,
      nonceExpiresAt: nonceExpiry(launch),
      tenantId: launch.platform.tenantId,
      platform: launch.platform,
      sub: launch.sub,
      claims: launch.claims,
      course: launchCourse(launch),
      roles: membershipRoles(launch.roles),
    });
    if (!result.ok) throw new LtiError('state', 'This launch was already used (state replayed)');
    const principal: SessionPrincipal = result.principal;
    await noteLaunch(store, c, { ...principal, platformId: launch.platform.id, deploymentId: launch.deploymentId });
    if (principal.courseId)
      deps.roster?.afterLaunch({
        ...principal,
        courseId: principal.courseId,
        platformId: launch.platform.id,
        claim: launch.claims[NRPS_CLAIM],
        staff: isCourseStaff(launch.roles),
      });
    // The claim was checked against the login's target (validate-launch), so it is the one asked for.
    const redirectTo = adminLanding(launch.claims[CLAIM.targetLinkUri] as string | undefined) ?? redirectFor(principal);
    // Cookie flow: the cookie may still not survive a third-party iframe, so the page can also
    // redeem the ticket. Storage flow: the ticket needs the state read back from platform storage.
    const ticket = await createTicket(
      store,
      config.publicUrl,
      principal,
      redirectTo,
      launch.browserVerified ? null : launch.stateValue,
    );
    if (launch.browserVerified) {
      const session = await issueSession(store, config.publicUrl, principal);
      setCookie(c, SESSION_COOKIE, session.token, cookieOptions(config, '/', SESSION_TTL_SECONDS));
      return c.redirect(`${redirectTo}#lti_ticket=${ticket}`, 303);
    }
    const returnUrl = (launch.claims[CLAIM.launchPresentation] as { return_url?: unknown } | undefined)?.return_url;
    let fallbackOrigin: string | null = null;
    try {
      fallbackOrigin = typeof returnUrl === 'string' ? new URL(returnUrl).origin : null;
    } catch {
      fallbackOrigin = null;
    }
    const page = StorageVerifyPage({
      cspNonce,
      data: {
        authOrigin: launch.state.auth_origin,
        fallbackOrigin,
        storageTarget: launch.state.storage_target!,
        state: launch.stateValue,
        nonce: launch.state.nonce,
        ticket,
        confirmUrl: `${config.publicUrl}/lti/launch/confirm`,
      },
    });
    return html(c, renderPage(page), cspNonce, framedBy);
  });

  // Redeems a launch ticket for a bearer session. JSON + a custom header forces a CORS preflight,
  // which we never allow, so a cross-site form cannot plant a session (LTI-NOTES §1.5).
  const redeem = async (c: Context) => {
    if (c.req.header('x-lti-confirm') !== '1' || !/^application\/json\b/i.test(c.req.header('content-type') ?? '')) {
      throw new LtiError('ticket', 'Send the ticket as JSON with the X-LTI-Confirm: 1 header', 403);
    }
    const body = (await c.req.json().catch(() => null)) as { ticket?: unknown; state?: unknown } | null;
    if (!body || typeof body.ticket !== 'string') throw new LtiError('ticket', 'The request has no ticket');
    const { principal, redirectTo } = await redeemTicket(
      store,
      config.publicUrl,
      body.ticket,
      typeof body.state === 'string' ? body.state : undefined,
    );
    const session = await issueSession(store, config.publicUrl, principal);
    return c.json(
      { token: session.token, tokenType: 'Bearer', expiresAt: session.expiresAt.toISOString(), redirectTo },
      200,
      { 'Cache-Control': 'no-store' },
    );
  };
  app.post('/launch/confirm', redeem);
  app.post('/session', redeem);

  app.get('/me', sessionAuth({ store, issuer: config.publicUrl }), (c) => c.json(c.get('session')));

  app.get('/jwks', async (c) => c.json(await keys.jwks(), 200, { 'Cache-Control': 'public, max-age=300' }));

  app.get('/register', async (c) => {
    const q = c.req.query();
    const platform = await completeRegistration(store, actorFor(c, 'lti:dynamic-registration'), config.publicUrl, q);
    const cspNonce = randomBytes(16).toString('base64');
    const page = RegistrationDonePage({
      cspNonce,
      issuer: platform.issuer,
      clientId: platform.clientId,
      deploymentId: platform.deploymentIds[0] ?? '',
    });
    return html(c, renderPage(page), cspNonce, platformFrameOrigins(platform));
  });

  return app;
}
