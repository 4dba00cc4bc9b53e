import { Hono } from 'hono';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateKeys } from '../../lti/keys.js';
import { issueSession, sessionAuth, toolKeysFor } from '../../lti/session.js';
import { createRegistrationLink } from '../../lti/registration.js';
import { listPlatforms } from '../../src/domain/platforms.js';
import { Browser, LTI_CLAIM, runLaunch } from '../support/platform-emulator.js';
import { failedCheck, provisionPerson, resourceLaunch, ROLE, rows, spec, startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * End to end over real sockets: an emulated LMS launches a SCIM-provisioned person who lands on
 * the right page with a session (cookie and bearer), plus the cookie-less platform storage flow,
 * deep linking, dynamic registration and key rotation.
 */
let env: LtiEnv;
beforeAll(async () => {
  env = await startLtiEnv();
});
afterAll(async () => {
  await env?.close();
});

const me = (headers: Record<string, string>) => fetch(`${env.toolUrl}/lti/me`, { headers });
const redeem = (
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json', 'x-lti-confirm': '1' },
) => fetch(`${env.toolUrl}/lti/session`, { method: 'POST', headers, body: JSON.stringify(body) });

describe('a SCIM-provisioned teacher launches for the first time', () => {
  it('lands on the course admin page of the course prepared for them, with the grants made before the launch', async () => {
    const teacher = await provisionPerson(env.store, env.tenant.id, {
      externalId: 'T-1001',
      userName: 'teacher@school.example',
    });
    const [course] = await rows<{ id: string }>(
      env.store,
      `INSERT INTO courses (tenant_id, title, external_key) VALUES ($1, 'Biology', 'SIS-BIO-101') RETURNING id`,
      [env.tenant.id],
    );
    const hasPrivileges =
      (await rows(env.store, `SELECT 1 FROM information_schema.tables WHERE table_name = 'privilege_grants'`)).length >
      0;
    if (hasPrivileges) {
      await rows(
        env.store,
        `INSERT INTO privilege_catalogue (tenant_id, key) VALUES ($1, 'grades.edit') ON CONFLICT DO NOTHING`,
        [env.tenant.id],
      );
      await rows(
        env.store,
        `INSERT INTO privilege_grants (tenant_id, course_id, person_id, privilege, effect, granted_by) VALUES ($1, $2, $3, 'grades.edit', 'allow', 'test')`,
        [env.tenant.id, course.id, teacher.id],
      );
    }
    const r = await runLaunch(
      env.emu,
      spec(
        resourceLaunch(env, {
          sub: 'lms-teacher-1',
          roles: [ROLE.instructor],
          sourcedId: 'T-1001',
          contextId: 'canvas-course-9',
          extra: { [`${LTI_CLAIM}lis`]: { person_sourcedid: 'T-1001', course_offering_sourcedid: 'SIS-BIO-101' } },
        }),
      ),
      { toolUrl: env.toolUrl },
    );
    expect(r.launch!.status).toBe(303);
    const location = r.launch!.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/app/courses/${course.id}#lti_ticket=`));

    // the cookie session
    const cookie = r.browser.cookies.get('rb_session')!;
    const viaCookie = await me({ cookie: `rb_session=${cookie}` });
    expect(await viaCookie.json()).toEqual({
      tenantId: env.tenant.id,
      personId: teacher.id,
      courseId: course.id,
      roles: [ROLE.instructor],
    });

    // the ticket, redeemed once for a bearer session (third-party cookies blocked)
    const ticket = location.split('#lti_ticket=')[1];
    const redeemed = await redeem({ ticket });
    expect(redeemed.status).toBe(200);
    const body = (await redeemed.json()) as { token: string; redirectTo: string; tokenType: string };
    expect(body).toMatchObject({ tokenType: 'Bearer', redirectTo: `/app/courses/${course.id}` });
    expect((await me({ authorization: `Bearer ${body.token}` })).status).toBe(200);
    expect((await redeem({ ticket })).status).toBe(401);

    const [person] = await rows<{ status: string; first_launch_at: Date | null }>(
      env.store,
      `SELECT status, first_launch_at FROM people WHERE id = $1`,
      [teacher.id],
    );
    expect(person.status).toBe('active');
    expect(person.first_launch_at).not.toBeNull();
    if (hasPrivileges) {
      const grants = await rows<{ privilege: string }>(
        env.store,
        `SELECT privilege FROM privilege_grants WHERE tenant_id = $1 AND course_id = $2 AND person_id = $3`,
        [env.tenant.id, course.id, teacher.id],
      );
      expect(grants.map((g) => g.privilege)).toEqual(['grades.edit']);
    }
  });

  it('refuses someone the school has not provisioned, with a page telling them to ask their school', async () => {
    const r = await runLaunch(env.emu, spec(resourceLaunch(env, { sub: 'stranger', sourcedId: 'NOBODY' })), {
      toolUrl: env.toolUrl,
    });
    expect(r.launch!.status).toBe(403);
    const page = await r.launch!.text();
    expect(page).toContain('data-check="identity"');
    expect(page).toMatch(/ask your school/i);
    // the refused launch still used up its state: provisioning the person now does not make it replayable
    await provisionPerson(env.store, env.tenant.id, { externalId: 'NOBODY' });
    const replay = await r.browser.submitForm(r.authPage!);
    expect(await failedCheck(replay)).toBe('state');
  });
});

describe('sessions', () => {
  it('rejects a missing, forged or API-token bearer on session endpoints', async () => {
    expect((await me({})).status).toBe(401);
    expect((await me({ authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln' })).status).toBe(401);
    expect((await me({ authorization: `Bearer ${env.adminToken}` })).status).toBe(401);
  });

  it('refuses ticket redemption without the JSON content type and confirm header (no cross-site form posts)', async () => {
    const res = await fetch(`${env.toolUrl}/lti/session`, {
      method: 'POST',
      body: new URLSearchParams({ ticket: 'x' }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('sessionAuth puts the principal on c.var.session for other routes', async () => {
    const app = new Hono();
    app.use('*', sessionAuth({ store: env.store, issuer: 'https://issuer.test' }));
    app.get('/x', (c) => c.json(c.get('session')));
    app.onError((err, c) => c.text(err.message, 401));
    const principal = { tenantId: env.tenant.id, personId: null, courseId: null, roles: ['Learner'] };
    const { token } = await issueSession(env.store, 'https://issuer.test', principal);
    expect(await (await app.request('/x', { headers: { authorization: `Bearer ${token}` } })).json()).toEqual(
      principal,
    );
    expect((await app.request('/x', { headers: { cookie: `rb_session=${token}` } })).status).toBe(200);
    const other = await issueSession(env.store, 'https://other-issuer.test', principal);
    expect((await app.request('/x', { headers: { authorization: `Bearer ${other.token}` } })).status).toBe(401);
    const expired = await issueSession(env.store, 'https://issuer.test', principal, -120);
    expect(await (await app.request('/x', { headers: { authorization: `Bearer ${expired.token}` } })).text()).toMatch(
      /expired/,
    );
  });
});

describe('platform storage flow (third-party cookies blocked)', () => {
  it('answers the login with a storage page and the launch with a verification page whose ticket needs the state', async () => {
    const browser = new Browser(true);
    const r = await runLaunch(env.emu, spec(resourceLaunch(env, { sub: 'storage-user', sourcedId: 'S-1' })), {
      toolUrl: env.toolUrl,
      browser,
      storageTarget: 'post_message_forwarding',
    });
    expect(r.login.status).toBe(200);
    expect(r.login.headers.get('content-security-policy')).toMatch(/script-src 'nonce-/);
    expect(r.launch!.status).toBe(403); // S-1 is not provisioned: identity is still checked before any ticket
  });

  it('issues a bearer session only after the page proves the state it read back from platform storage', async () => {
    await provisionPerson(env.store, env.tenant.id, { externalId: 'S-2' });
    const browser = new Browser(true);
    const r = await runLaunch(env.emu, spec(resourceLaunch(env, { sub: 'storage-user-2', sourcedId: 'S-2' })), {
      toolUrl: env.toolUrl,
      browser,
      storageTarget: 'post_message_forwarding',
    });
    expect(r.launch!.status).toBe(200);
    expect(r.launch!.headers.getSetCookie().some((c) => c.startsWith('rb_session='))).toBe(false);
    const page = await r.launch!.text();
    const data = JSON.parse(/id="lti-verify">([^<]*)</.exec(page)![1]) as {
      ticket: string;
      state: string;
      nonce: string;
      authOrigin: string;
    };
    expect(data.authOrigin).toBe(env.emu.url);
    expect((await redeem({ ticket: data.ticket })).status).toBe(401); // without the state
    expect((await redeem({ ticket: data.ticket, state: 'wrong' })).status).toBe(401);
    const ok = await redeem({ ticket: data.ticket, state: data.state });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { redirectTo: string }).redirectTo).toBe('/app/welcome');
    expect((await redeem({ ticket: data.ticket, state: data.state })).status).toBe(401);
  });

  it('still rejects a replay of the storage-flow launch', async () => {
    await provisionPerson(env.store, env.tenant.id, { externalId: 'S-3' });
    const browser = new Browser(true);
    const r = await runLaunch(env.emu, spec(resourceLaunch(env, { sub: 'storage-user-3', sourcedId: 'S-3' })), {
      toolUrl: env.toolUrl,
      browser,
      storageTarget: '_parent',
    });
    expect(r.launch!.status).toBe(200);
    const again = await browser.submitForm(r.authPage!);
    expect(await failedCheck(again)).toBe('state');
  });
});

describe('deep linking', () => {
  const dlPayload = (roles: string[], settings: Record<string, unknown>) => {
    const p = resourceLaunch(env, { sub: 'dl-teacher', roles });
    p[`${LTI_CLAIM}message_type`] = 'LtiDeepLinkingRequest';
    delete p[`${LTI_CLAIM}resource_link`];
    p['https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings'] = settings;
    return p;
  };

  it('answers a deep linking request with a signed LtiDeepLinkingResponse posted to the return URL unchanged', async () => {
    const returnUrl = `${env.emu.url}/deep-link-return?course=5&sesskey=a%20b`;
    const r = await runLaunch(
      env.emu,
      spec(
        dlPayload([ROLE.instructor], {
          deep_link_return_url: returnUrl,
          accept_types: ['ltiResourceLink'],
          accept_presentation_document_targets: ['iframe'],
          data: 'opaque-123',
        }),
      ),
      { toolUrl: env.toolUrl },
    );
    expect(r.launch!.status).toBe(200);
    const page = await r.launch!.text();
    const res = await new Browser().submitForm(page);
    expect(res.status).toBe(200);
    const posted = env.emu.deepLinkReturns.at(-1)!;
    expect(posted.url).toBe(returnUrl);
    const jwks = await (await fetch(`${env.toolUrl}/lti/jwks`)).json();
    const { payload, protectedHeader } = await jwtVerify(posted.jwt, createLocalJWKSet(jwks), {
      issuer: env.emu.clientId,
      audience: env.emu.issuer,
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload[`${LTI_CLAIM}message_type`]).toBe('LtiDeepLinkingResponse');
    expect(payload[`${LTI_CLAIM}version`]).toBe('1.3.0');
    expect(payload[`${LTI_CLAIM}deployment_id`]).toBe(env.deploymentId);
    expect(payload['https://purl.imsglobal.org/spec/lti-dl/claim/data']).toBe('opaque-123');
    expect(payload['https://purl.imsglobal.org/spec/lti-dl/claim/content_items']).toEqual([
      { type: 'ltiResourceLink', title: expect.any(String), url: `${env.toolUrl}/lti/launch` },
    ]);
    expect(Number(payload.exp) - Number(payload.iat)).toBe(300);
    expect(typeof payload.nonce).toBe('string');
  });

  it('returns no items when the placement does not accept resource links', async () => {
    const r = await runLaunch(
      env.emu,
      spec(
        dlPayload([ROLE.instructor], {
          deep_link_return_url: `${env.emu.url}/deep-link-return`,
          accept_types: ['html'],
        }),
      ),
      { toolUrl: env.toolUrl },
    );
    await new Browser().submitForm(await r.launch!.text());
    const jwt = env.emu.deepLinkReturns.at(-1)!.jwt;
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    expect(claims['https://purl.imsglobal.org/spec/lti-dl/claim/content_items']).toEqual([]);
  });

  it('refuses deep linking for learners', async () => {
    const r = await runLaunch(
      env.emu,
      spec(
        dlPayload([ROLE.learner], {
          deep_link_return_url: `${env.emu.url}/deep-link-return`,
          accept_types: ['ltiResourceLink'],
        }),
      ),
      { toolUrl: env.toolUrl },
    );
    expect(r.launch!.status).toBe(403);
    expect(await failedCheck(r.launch!)).toBe('deep_linking');
  });
});

describe('dynamic registration', () => {
  it('registers platform and deployment for the tenant of a one-time link', async () => {
    const { url } = await createRegistrationLink(env.store, env.tenant.id, env.toolUrl);
    const open = `${url}&${new URLSearchParams({ openid_configuration: `${env.emu.url}/.well-known/openid-configuration`, registration_token: 'reg-token-1' })}`;
    const res = await fetch(open);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('org.imsglobal.lti.close');
    const reg = env.emu.registrations.at(-1)!;
    expect(reg.token).toBe('reg-token-1');
    expect(reg.body).toMatchObject({
      initiate_login_uri: `${env.toolUrl}/lti/login`,
      redirect_uris: [`${env.toolUrl}/lti/launch`],
      jwks_uri: `${env.toolUrl}/lti/jwks`,
    });
    const platforms = await listPlatforms(env.store, env.tenant.id);
    expect(platforms.find((p) => p.clientId === 'dyn-client')).toMatchObject({
      issuer: env.emu.issuer,
      deploymentIds: ['dyn-deploy'],
      authLoginUrl: `${env.emu.url}/auth`,
    });
    const again = await fetch(open);
    expect(again.status).toBe(403);
    expect(await failedCheck(again)).toBe('registration');
  });

  it('answers an unreachable platform configuration with a page, not a crash', async () => {
    const { url } = await createRegistrationLink(env.store, env.tenant.id, env.toolUrl);
    const res = await fetch(
      `${url}&openid_configuration=${encodeURIComponent('http://127.0.0.1:1/.well-known/openid-configuration')}`,
    );
    expect(res.status).toBe(502);
    expect(await failedCheck(res)).toBe('registration');
  });

  it('refuses a configuration whose issuer does not match its URL', async () => {
    const { url } = await createRegistrationLink(env.store, env.tenant.id, env.toolUrl);
    const res = await fetch(
      `${url}&openid_configuration=${encodeURIComponent(`http://localhost:${new URL(env.emu.url).port}/.well-known/openid-configuration`)}`,
    );
    expect(res.status).toBe(400);
    expect(await failedCheck(res)).toBe('registration');
  });
});

describe('tool keys', () => {
  it('publishes the new and the retiring key after a rotation; old sessions keep verifying and the server learns the new kid', async () => {
    const principal = { tenantId: env.tenant.id, personId: null, courseId: null, roles: [] };
    const old = await issueSession(env.store, env.toolUrl, principal);
    const keys = toolKeysFor(env.store);
    const before = await keys.jwks();
    const rotated = await rotateKeys(env.store);
    keys.invalidate();
    const after = (await keys.jwks()) as { keys: Array<{ kid?: string; d?: string }> };
    expect(after.keys.map((k) => k.kid)).toEqual(
      expect.arrayContaining([rotated.kid, ...before.keys.map((k) => k.kid)]),
    );
    expect(after.keys.every((k) => k.d === undefined)).toBe(true);
    expect((await me({ authorization: `Bearer ${old.token}` })).status).toBe(200);
    // signed by the new key; the running server has the old key set cached and reloads on the
    // unknown kid (at most every 2 s, so made-up kids cannot make it reload on every request)
    await new Promise((r) => setTimeout(r, 2_100));
    const fresh = await issueSession(env.store, env.toolUrl, principal);
    expect(JSON.parse(Buffer.from(fresh.token.split('.')[0], 'base64url').toString())).toMatchObject({
      kid: rotated.kid,
      alg: 'HS256',
    });
    expect((await me({ authorization: `Bearer ${fresh.token}` })).status).toBe(200);
  });
});
