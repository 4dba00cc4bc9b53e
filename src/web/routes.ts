import { Hono, type Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import { courseAccess, courseFrameOrigins, tenantFrameOrigins } from '../domain/course-page.js';
import { catalogue } from '../domain/privileges/index.js';
import { AppError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import type { SessionPrincipal } from '../http/context.js';
import { SESSION_COOKIE, verifySession } from '../../lti/session.js';
import { forbiddenWords, UNAUTHENTICATED } from './client/access-words.js';
import { adminPage } from './admin/index.js';
import { CLIENT_ENTRIES, clientAssets } from './assets.js';
import { htmlResponse, newNonce } from './html.js';
import { CourseNotFoundPage, CoursePage, WelcomePage } from './pages.js';

/**
 * /app: the course admin page (GET /app/courses/:id) and the learner landing page
 * (GET /app/welcome[?invitation=…]), where LTI launches land (lti/routes.ts redirects here with
 * #lti_ticket=…), and the pages' bundled browser code (GET /app/assets/<name>.js).
 *
 * The course page decides access on the server when the request carries the launch's session
 * cookie (200 for privileges.manage or members.view, 403 otherwise, 401 for an expired one).
 * Without a cookie (a third-party iframe, the platform-storage flow) it answers 401 with the
 * sign-in view; its script then signs in with the session from the fragment and asks
 * /api/v1/courses/{id}/access, drawing the same views.
 */
export interface WebDeps {
  store: Store;
  config: Config;
}

type CookieSession = { ok: true; session: SessionPrincipal } | { ok: false; reason: 'none' | 'invalid' };

async function cookieSession(c: Context, deps: WebDeps): Promise<CookieSession> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return { ok: false, reason: 'none' };
  try {
    return { ok: true, session: await verifySession(deps.store, deps.config.publicUrl, token) };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, reason: 'invalid' };
    throw err;
  }
}

export function webRoutes(deps: WebDeps) {
  const { store } = deps;
  const app = new Hono();
  void clientAssets().catch(() => undefined); // bundle while the server starts; a failure shows on request

  app.get('/assets/:file', async (c) => {
    const file = c.req.param('file');
    const name = file.replace(/\.js$/, '');
    if (!file.endsWith('.js') || !(CLIENT_ENTRIES as readonly string[]).includes(name))
      throw new NotFoundError(`No asset ${file}`);
    const asset = (await clientAssets()).get(name)!;
    const headers = {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'no-cache',
      ETag: asset.etag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers);
    return c.body(asset.code, 200, headers);
  });

  // The cookie session as a bearer token for the page's API calls. A custom header and a JSON body
  // make any cross-site attempt a CORS preflight, which is never granted: no other site can use it.
  app.post('/session', async (c) => {
    if (c.req.header('x-rb-session') !== '1' || !/^application\/json\b/i.test(c.req.header('content-type') ?? ''))
      throw new ForbiddenError('Send X-RB-Session: 1 with a JSON body');
    const site = c.req.header('sec-fetch-site');
    if (site && site !== 'same-origin') throw new ForbiddenError('Only this site’s pages may ask for the session');
    const token = getCookie(c, SESSION_COOKIE);
    if (!token) throw new UnauthorizedError('Missing session: open the tool from your course');
    await verifySession(store, deps.config.publicUrl, token);
    return c.json({ token, tokenType: 'Bearer' }, 200, { 'Cache-Control': 'no-store' });
  });

  app.get('/courses/:id', async (c) => {
    const id = c.req.param('id');
    const nonce = newNonce();
    const origins = await courseFrameOrigins(store, id);
    if (!origins) return htmlResponse(c, CourseNotFoundPage({ nonce }), { nonce, frameAncestors: [] }, 404);
    const csp = { nonce, frameAncestors: origins };
    const data = { courseId: id };
    const cookie = await cookieSession(c, deps);
    if (!cookie.ok) {
      return htmlResponse(
        c,
        CoursePage({ nonce, data, courseTitle: null, refusal: { kind: 'unauthenticated', ...UNAUTHENTICATED } }),
        csp,
        401,
      );
    }
    const access = await courseAccess(store, cookie.session.tenantId, id, cookie.session.personId ?? '').catch(
      (err) => {
        // Another school's course (or an anonymous launch): nothing here for this session.
        if (err instanceof NotFoundError) return null;
        throw err;
      },
    );
    if (!access || access.level === 'none') {
      const labels = new Map(
        (await catalogue(store, cookie.session.tenantId)).map((e) => [e.key, e.description || e.key]),
      );
      const words = forbiddenWords({
        courseTitle: access?.course.title ?? 'this course',
        you: access?.you ?? 'someone outside this course',
        missing: (access?.missing ?? ['privileges.manage', 'members.view']).map((key) => ({
          key,
          label: labels.get(key) ?? key,
        })),
        managers: access?.managers ?? [],
      });
      return htmlResponse(
        c,
        CoursePage({
          nonce,
          data,
          courseTitle: access?.course.title ?? null,
          refusal: { kind: 'forbidden', ...words },
        }),
        csp,
        403,
      );
    }
    return htmlResponse(
      c,
      CoursePage({ nonce, data: { ...data, cookie: true }, courseTitle: access.course.title, refusal: null }),
      csp,
    );
  });

  app.get('/welcome', async (c) => {
    const invitation = c.req.query('invitation');
    const nonce = newNonce();
    // Framed by the launching school's platforms; before anyone signed in, by any registered platform.
    const cookie = await cookieSession(c, deps);
    const origins = await tenantFrameOrigins(store, cookie.ok ? cookie.session.tenantId : undefined);
    return htmlResponse(
      c,
      WelcomePage({ nonce, invitation: invitation && /^rbi_[\w-]{10,100}$/.test(invitation) ? invitation : null }),
      { nonce, frameAncestors: origins },
    );
  });
  app.route('/admin', adminPage(deps));
  return app;
}
