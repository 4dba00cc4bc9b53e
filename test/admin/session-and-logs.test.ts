import { flushWriteBehind } from '../../src/domain/write-behind.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneProvisioningLog } from '../../src/domain/provisioning-log.js';
import { backendName } from '../support/db.js';
import { seedTenant, startTestServer } from '../support/server.js';
import { provisionPerson, ROLE, rows, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { cookieOf, cookieValue, launchAdminPage, teacherLaunchesOkThenForged } from './helpers.js';

/**
 * The school admin page's sign-in and the logs behind it, over HTTP on the real server: a pasted
 * admin token becomes an HttpOnly session cookie, writes need the CSRF token, SCIM requests land in
 * the provisioning log (without bodies), and launches — refused ones with their check — in the
 * launch log.
 */
const INSTITUTION_ADMIN = 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator';

const csrfIn = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? null;

describe(`school admin page sessions and logs on ${backendName}`, () => {
  let env: LtiEnv;
  let scimToken: string;

  const form = (body: Record<string, string>, cookie?: string, origin?: string) => ({
    method: 'POST',
    redirect: 'manual' as const,
    body: new URLSearchParams(body),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(cookie ? { cookie } : {}),
      ...(origin ? { origin } : {}),
    },
  });
  async function signIn(token = env.adminToken) {
    const res = await fetch(`${env.toolUrl}/app/admin/sign-in`, form({ token }));
    const set = cookieOf(res, 'rb_admin');
    return { res, set, cookie: set ? cookieValue(set) : '' };
  }

  beforeAll(async () => {
    env = await startLtiEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  it('answers 401 with no form to someone not signed in, and offers a sign-in page', async () => {
    const res = await fetch(`${env.toolUrl}/app/admin`);
    expect(res.status).toBe(401);
    const page = await res.text();
    expect(page).not.toContain('<form');
    expect(page).toContain('/app/admin/sign-in');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'self';");
    const signInPage = await fetch(`${env.toolUrl}/app/admin/sign-in`);
    expect(signInPage.status).toBe(200);
    expect(await signInPage.text()).toContain('<label for="token">Admin token</label>');
  });

  it('exchanges a pasted admin token for an HttpOnly session cookie, never a URL', async () => {
    const { res, set } = await signIn();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/app/admin');
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Lax/i);
    expect(set).toMatch(/Path=\/app\/admin/);
    expect(set).not.toMatch(/Secure/i); // PUBLIC_URL is http here; https makes it Secure
    const [session] = await rows<{ via: string; secret_hash: string }>(
      env.store,
      'SELECT via, secret_hash FROM admin_sessions',
    );
    expect(session.via).toBe('token');
    expect(cookieValue(set!)).not.toContain(session.secret_hash); // only the hash is stored
    const page = await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie: cookieValue(set!) } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`School ${env.tenant.slug}`);
    expect(html).not.toContain(env.adminToken);
  });

  it('refuses a wrong, a SCIM or a revoked token with a reason, and sets no cookie', async () => {
    const unknown = await signIn(`rb_admin_${'x'.repeat(43)}`);
    expect(unknown.res.status).toBe(401);
    expect(unknown.set).toBeNull();
    expect(await unknown.res.text()).toContain('not known here');
    const malformed = await signIn('hello');
    expect(malformed.res.status).toBe(401);
    expect(await malformed.res.text()).toContain('should start with rb_admin_');
  });

  it('refuses a sign-in posted from another site', async () => {
    const res = await fetch(
      `${env.toolUrl}/app/admin/sign-in`,
      form({ token: env.adminToken }, undefined, 'https://evil.example'),
    );
    expect(res.status).toBe(403);
    expect(cookieOf(res, 'rb_admin')).toBeNull();
  });

  it('creates a SCIM token shown once, only with the CSRF token', async () => {
    const { cookie } = await signIn();
    const page = await (await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie } })).text();
    const csrf = csrfIn(page)!;
    expect(csrf).toBeTruthy();

    const forged = await fetch(`${env.toolUrl}/app/admin/scim-tokens`, form({ name: 'Forged', csrf: 'nope' }, cookie));
    expect(forged.status).toBe(403);
    const noCookie = await fetch(`${env.toolUrl}/app/admin/scim-tokens`, form({ name: 'Forged', csrf }));
    expect(noCookie.status).toBe(401);
    expect(await rows(env.store, `SELECT 1 FROM api_tokens WHERE name = 'Forged'`)).toEqual([]);

    const made = await fetch(`${env.toolUrl}/app/admin/scim-tokens`, form({ name: 'Entra ID', csrf }, cookie));
    expect(made.status).toBe(200);
    const html = await made.text();
    scimToken = /value="(rb_scim_[\w-]{43})"/.exec(html)![1];
    const again = await (await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie } })).text();
    expect(again).toContain('Entra ID');
    expect(again).not.toContain(scimToken);
    const [audit] = await rows<{ actor: string }>(
      env.store,
      `SELECT actor FROM audit_events WHERE action = 'token.create' ORDER BY id DESC LIMIT 1`,
    );
    expect(audit.actor).toMatch(/^token:/);
  });

  it('revokes a SCIM token and makes a one-time registration link from the page, each with the CSRF token', async () => {
    const { cookie } = await signIn();
    const page = await (await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie } })).text();
    const csrf = csrfIn(page)!;
    const made = await (
      await fetch(`${env.toolUrl}/app/admin/scim-tokens`, form({ name: 'Old IdP', csrf }, cookie))
    ).text();
    const secret = /value="(rb_scim_[\w-]{43})"/.exec(made)![1];
    const [row] = await rows<{ id: string }>(env.store, `SELECT id FROM api_tokens WHERE name = 'Old IdP'`);
    const revoked = await fetch(`${env.toolUrl}/app/admin/scim-tokens/revoke`, form({ token: row.id, csrf }, cookie));
    expect(revoked.status).toBe(303);
    expect(revoked.headers.get('location')).toBe('/app/admin?done=revoked#tokens-h');
    expect(
      (await fetch(`${env.toolUrl}/scim/v2/Users`, { headers: { authorization: `Bearer ${secret}` } })).status,
    ).toBe(401);
    // the admin token itself is not a SCIM token: the page does not revoke it
    const [admin] = await rows<{ id: string }>(env.store, `SELECT id FROM api_tokens WHERE kind = 'admin'`);
    const refused = await fetch(`${env.toolUrl}/app/admin/scim-tokens/revoke`, form({ token: admin.id, csrf }, cookie));
    expect(refused.status).toBe(400);
    expect(
      await rows(env.store, 'SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL', [admin.id]),
    ).toHaveLength(1);

    const link = await fetch(`${env.toolUrl}/app/admin/registration-links`, form({ csrf }, cookie));
    expect(link.status).toBe(200);
    const url = /id="registration-link"[^>]*value="([^"]+)"/.exec(await link.text())?.[1] ?? '';
    expect(url.replace(/&amp;/g, '&')).toMatch(new RegExp(`^${env.toolUrl}/lti/register\\?rb=`));
  });

  it('logs SCIM requests with their result and detail, never their bodies', async () => {
    const user = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'ada@school.example',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      displayName: 'Ada Lovelace',
      password: 'hunter2-secret',
    };
    const post = (body: unknown) =>
      fetch(`${env.toolUrl}/scim/v2/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(body),
      });
    expect((await post(user)).status).toBe(201);
    expect((await post(user)).status).toBe(409);
    await fetch(`${env.toolUrl}/scim/v2/Users?filter=${encodeURIComponent('userName eq "ada@school.example"')}`, {
      headers: { authorization: `Bearer ${scimToken}` },
    });
    await fetch(`${env.toolUrl}/scim/v2/Users`, { headers: { authorization: 'Bearer rb_scim_unknown' } }); // no tenant: not logged
    await flushWriteBehind(env.store); // log lines are written a moment behind the request
    const log = await rows<{
      method: string;
      resource: string;
      status: number;
      detail: string | null;
      target_id: string | null;
    }>(env.store, 'SELECT method, resource, status, detail, target_id FROM provisioning_log ORDER BY id');
    expect(log.map((l) => [l.method, l.resource, l.status])).toEqual([
      ['POST', 'Users', 201],
      ['POST', 'Users', 409],
      ['GET', 'Users', 200],
    ]);
    expect(log[0].target_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(log[1].detail).toMatch(/ada@school.example|already|exists/i);
    const all = JSON.stringify(await rows(env.store, 'SELECT * FROM provisioning_log'));
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain(scimToken);

    const { cookie } = await signIn();
    const html = await (await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie } })).text();
    expect(html).toContain('Created a person');
    expect(html).toContain('Ada Lovelace');
    expect(html).toContain('Refused: already exists or conflicts');
    expect(html).not.toMatch(/Last successful SCIM call:[^<]*<strong>none yet/);
  });

  it('keeps the provisioning log bounded, and keeps the latest success', async () => {
    for (let i = 0; i < 6; i++)
      await fetch(`${env.toolUrl}/scim/v2/Users/00000000-0000-4000-8000-00000000000${i}`, {
        headers: { authorization: `Bearer ${scimToken}` },
      });
    await flushWriteBehind(env.store); // log lines are written a moment behind the request
    const removed = await pruneProvisioningLog(env.store, env.tenant.id, 2);
    expect(removed).toBeGreaterThan(0);
    const left = await rows<{ status: number }>(env.store, 'SELECT status FROM provisioning_log ORDER BY id');
    expect(left.length).toBe(3);
    expect(left.filter((l) => l.status < 400)).toHaveLength(1);
  });

  it('logs launches, and a refused launch with the check that refused it', async () => {
    await teacherLaunchesOkThenForged(env, {
      externalId: 'T-1',
      userName: 'tess@school.example',
      displayName: 'Tess Teacher',
      sub: 'lms-tess',
    });
    await flushWriteBehind(env.store); // log lines are written a moment behind the request
    const log = await rows<{ ok: boolean; failed_check: string | null; roles: string[] }>(
      env.store,
      'SELECT ok, failed_check, roles FROM launch_log ORDER BY id',
    );
    expect(log.map((l) => [l.ok, l.failed_check])).toEqual([
      [true, null],
      [false, 'signature'],
    ]);
    expect(log[0].roles).toEqual(['Instructor']);
    const { cookie } = await signIn();
    const html = await (await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie } })).text();
    expect(html).toContain('Refused: The signature did not match');
    expect(html).toContain('Tess Teacher');
  });

  it('signs an LMS administrator in from a launch, and refuses anyone else with 403', async () => {
    await provisionPerson(env.store, env.tenant.id, {
      externalId: 'A-1',
      userName: 'it@school.example',
      displayName: 'Ivy IT',
    });
    const adminLaunch = await launchAdminPage(env, {
      sub: 'lms-ivy',
      roles: [INSTITUTION_ADMIN, ROLE.instructor],
      sourcedId: 'A-1',
    });
    expect(adminLaunch.launch!.headers.get('location')).toMatch(/^\/app\/admin#lti_ticket=/);
    const page = await adminLaunch.browser.fetch(`${env.toolUrl}/app/admin`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Signed in as Ivy IT');
    expect(adminLaunch.browser.cookies.get('rb_admin')).toBeTruthy();

    const learner = await launchAdminPage(env, { sub: 'lms-tess', roles: [ROLE.instructor], sourcedId: 'T-1' });
    const refused = await learner.browser.fetch(`${env.toolUrl}/app/admin`);
    expect(refused.status).toBe(403);
    const html = await refused.text();
    expect(html).not.toContain('<form');
    expect(refused.headers.get('content-security-policy')).toContain(
      `frame-ancestors 'self' ${new URL(env.emu.issuer).origin}`,
    );
  });

  it('signs out: the cookie stops working and the form needs the CSRF token', async () => {
    const { cookie } = await signIn();
    const csrf = csrfIn(await (await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie } })).text())!;
    const out = await fetch(`${env.toolUrl}/app/admin/sign-out`, form({ csrf }, cookie));
    expect(out.status).toBe(303);
    expect(cookieOf(out, 'rb_admin')).toMatch(/Max-Age=0/i);
    expect((await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie } })).status).toBe(401);
  });
});

describe(`school admin page cookie over https on ${backendName}`, () => {
  it('is Secure when PUBLIC_URL is https', async () => {
    const server = await startTestServer({ PUBLIC_URL: 'https://rosterbridge.school.example' });
    try {
      const { adminToken } = await seedTenant(server.store);
      const res = await fetch(`${server.url}/app/admin/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams({ token: adminToken }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(303);
      expect(cookieOf(res, 'rb_admin')).toMatch(/;\s*Secure/i);
      expect(cookieOf(res, 'rb_admin')).toMatch(/HttpOnly/i);
    } finally {
      await server.close();
    }
  });
});
