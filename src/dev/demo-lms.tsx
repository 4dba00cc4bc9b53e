/** @jsxImportSource hono/jsx */
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { Hono } from 'hono';
import { raw } from 'hono/html';
import { SignJWT } from 'jose';
import type { Store } from '../db/store.js';
import { getCourse, listCourses } from '../domain/courses.js';
import { DEMO_CLIENT_ID, DEMO_LMS_PATH } from '../domain/dev-seed.js';
import { listMemberships, type MembershipView } from '../domain/memberships.js';
import { listPlatforms } from '../domain/platforms.js';
import { getTenantBySlug } from '../domain/tenants.js';
import { NotFoundError } from '../errors.js';

/**
 * A stand-in LMS for demos (`DEMO_LMS=true`, off by default): the platform `rosterbridge dev seed`
 * registers. It lists the demo school's courses and people with an "open as" link each, and
 * answers the tool's OIDC login like a real LMS does (form post of a signed id_token), so every
 * LTI check runs for real. Its key lives in this process only: it can sign for nobody but the
 * tenants that registered it as their platform, and it is never on unless asked for.
 */
const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
const ROLE_URI: Record<string, string> = {
  Instructor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  TeachingAssistant: 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant',
  Learner: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
};
const HINT_TTL_MS = 5 * 60_000;

interface PendingLaunch {
  claims: Record<string, unknown>;
  expires: number;
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d0d7de}a{color:#0550ae}.muted{color:#57606a}`;

const roleLabel = (roles: string[]) =>
  roles.map((r) => (r === 'TeachingAssistant' ? 'Teaching assistant' : r)).join(', ');

function statusLabel(status: string | undefined): string {
  if (status === 'invited') return 'waiting for first sign-in';
  if (status === 'provisioned') return 'not signed in yet';
  return status ?? '';
}

function CoursesPage(props: {
  school: string;
  slug: string;
  courses: Array<{ id: string; title: string; members: MembershipView[] }>;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <title>Demo LMS — {props.school}</title>
        <style>{raw(STYLE)}</style>
      </head>
      <body>
        <main>
          <h1>Demo LMS: {props.school}</h1>
          <p class="muted">
            A stand-in for the school's learning platform. Each link launches Rosterbridge from the course as that
            person, through the full LTI 1.3 sign-in.
          </p>
          {props.courses.map((c) => (
            <section aria-labelledby={`course-${c.id}`}>
              <h2 id={`course-${c.id}`}>{c.title}</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Person</th>
                    <th scope="col">Role</th>
                    <th scope="col">Status</th>
                    <th scope="col">Open Rosterbridge</th>
                  </tr>
                </thead>
                <tbody>
                  {c.members.map((m) => {
                    const name = m.person?.displayName ?? m.person?.primaryEmail ?? 'Unnamed person';
                    const href = `${DEMO_LMS_PATH}/launch?tenant=${encodeURIComponent(props.slug)}&course=${c.id}&person=${m.personId}`;
                    return (
                      <tr>
                        <td>{name}</td>
                        <td>{roleLabel(m.roles)}</td>
                        <td>{statusLabel(m.person?.status)}</td>
                        <td>
                          <a href={href}>Open as {name}</a>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </section>
          ))}
        </main>
      </body>
    </html>
  );
}

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function demoLmsRoutes(deps: { store: Store; publicUrl: string }) {
  const { store, publicUrl } = deps;
  const issuer = `${publicUrl}${DEMO_LMS_PATH}`;
  const kid = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }) as {
    privateKey: KeyObject;
    publicKey: KeyObject;
  };
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const pending = new Map<string, PendingLaunch>();
  const app = new Hono();

  /** Only a school that registered this stand-in LMS as its platform is listed or launched into. */
  const tenantOf = async (slug: string | undefined) => {
    const tenant = await getTenantBySlug(store, slug || 'demo');
    const platform = (await listPlatforms(store, tenant.id)).find(
      (p) => p.issuer === issuer && p.clientId === DEMO_CLIENT_ID,
    );
    if (!platform?.deploymentIds[0]) throw new NotFoundError('That school does not use the demo LMS');
    return { ...tenant, deploymentId: platform.deploymentIds[0] };
  };

  app.get('/', async (c) => {
    const tenant = await tenantOf(c.req.query('tenant'));
    const { items } = await listCourses(store, tenant.id, { limit: 50 });
    const courses = await Promise.all(
      items.map(async (course) => ({
        id: course.id,
        title: course.title,
        members: await listMemberships(store, tenant.id, course.id),
      })),
    );
    const page = `<!doctype html>${(<CoursesPage school={tenant.name} slug={tenant.slug} courses={courses} />).toString()}`;
    return c.html(page, 200, {
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    });
  });

  app.get('/jwks', (c) => c.json({ keys: [publicJwk] }));

  // The LMS side of "open the tool from the course": it knows the person and the course, and
  // starts the tool's third-party-initiated login with an opaque login_hint it remembers.
  app.get('/launch', async (c) => {
    const tenant = await tenantOf(c.req.query('tenant'));
    const courseId = c.req.query('course') ?? '';
    const personId = c.req.query('person') ?? '';
    const course = await getCourse(store, tenant.id, courseId);
    const member = (await listMemberships(store, tenant.id, course.id)).find((m) => m.personId === personId);
    if (!member?.person) throw new NotFoundError('That person is not in this course');
    const p = member.person;
    const email = p.primaryEmail ?? undefined;
    const claims: Record<string, unknown> = {
      sub: `demo-${p.externalId ?? email ?? p.id}`,
      name: p.displayName ?? email,
      ...(email ? { email } : {}),
      [`${LTI}message_type`]: 'LtiResourceLinkRequest',
      [`${LTI}version`]: '1.3.0',
      [`${LTI}deployment_id`]: tenant.deploymentId,
      [`${LTI}target_link_uri`]: `${publicUrl}/lti/launch`,
      [`${LTI}resource_link`]: { id: `rl-${course.externalKey ?? course.id}`, title: 'Rosterbridge' },
      [`${LTI}roles`]: member.roles.map((r) => ROLE_URI[r] ?? r),
      [`${LTI}context`]: { id: `ctx-${course.externalKey ?? course.id}`, title: course.title },
      [`${LTI}lis`]: {
        ...(p.externalId ? { person_sourcedid: p.externalId } : {}),
        ...(course.externalKey ? { course_offering_sourcedid: course.externalKey } : {}),
      },
    };
    const hint = randomBytes(16).toString('base64url');
    const now = Date.now();
    for (const [k, v] of pending) if (v.expires < now) pending.delete(k);
    pending.set(hint, { claims, expires: now + HINT_TTL_MS });
    const login = new URL(`${publicUrl}/lti/login`);
    login.search = new URLSearchParams({
      iss: issuer,
      login_hint: hint,
      target_link_uri: `${publicUrl}/lti/launch`,
      client_id: DEMO_CLIENT_ID,
      lti_deployment_id: tenant.deploymentId,
    }).toString();
    return c.redirect(login.toString(), 302);
  });

  // OIDC authorization endpoint: answers with a form post of the signed id_token, as LMSs do.
  app.get('/auth', async (c) => {
    const q = new URL(c.req.url).searchParams;
    const launch = pending.get(q.get('login_hint') ?? '');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!launch || launch.expires < Date.now())
      return c.text('This launch has expired; open it again from the demo LMS.', 400);
    if (q.get('client_id') !== DEMO_CLIENT_ID || !redirectUri.startsWith(`${publicUrl}/`))
      return c.text('Unknown client or redirect URI', 400);
    pending.delete(q.get('login_hint') ?? '');
    const idToken = await new SignJWT({ ...launch.claims, nonce: q.get('nonce') })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(DEMO_CLIENT_ID)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const nonce = randomBytes(16).toString('base64');
    const state = q.get('state') ?? '';
    return c.html(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head><body>
<form method="post" action="${esc(redirectUri)}"><input type="hidden" name="id_token" value="${esc(idToken)}">
<input type="hidden" name="state" value="${esc(state)}"><noscript><button>Continue</button></noscript></form>
<script nonce="${nonce}">document.forms[0].submit()</script></body></html>`,
      200,
      {
        'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; form-action ${publicUrl}/; base-uri 'none'`,
        'Cache-Control': 'no-store',
      },
    );
  });
  return app;
}
