import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPlatform } from '../../src/domain/platforms.js';
import { createTenant } from '../../src/domain/tenants.js';
import { Browser, LTI_CLAIM, runLaunch, type LaunchSpec } from '../support/platform-emulator.js';
import { failedCheck, resourceLaunch, ROLE, rows, spec, startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * Every launch check of issue 4, each as its own case, over a real socket against an emulated LMS.
 * A rejected launch is a 4xx HTML page naming the failed check.
 */
let env: LtiEnv;
let n = 0;
const uniqueSub = () => `user-${++n}`;

beforeAll(async () => {
  env = await startLtiEnv({ jitCreate: true });
});
afterAll(async () => {
  await env?.close();
});

async function launch(s: LaunchSpec, o: Partial<Parameters<typeof runLaunch>[2]> = {}) {
  return runLaunch(env.emu, s, { toolUrl: env.toolUrl, ...o });
}

async function expectRejected(s: LaunchSpec, check: string, o: Partial<Parameters<typeof runLaunch>[2]> = {}) {
  const r = await launch(s, o);
  const res = r.launch ?? r.login;
  expect(res.status, `expected a 4xx for ${check}`).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  expect(await failedCheck(res)).toBe(check);
  return res;
}

describe('a valid launch', () => {
  it('is accepted by GET login, redirects a learner to the landing page with a session cookie and a ticket', async () => {
    const r = await launch(spec(resourceLaunch(env, { sub: uniqueSub() })));
    expect(r.login.status).toBe(302);
    expect(r.launch!.status).toBe(303);
    expect(r.launch!.headers.get('location')).toMatch(/^\/app\/welcome#lti_ticket=[\w.-]+$/);
    const cookie = r.launch!.headers.getSetCookie().find((c) => c.startsWith('rb_session='));
    expect(cookie).toMatch(/HttpOnly/i);
    // the single-use state cookie is cleared
    expect([...r.browser.cookies.keys()].filter((k) => k.startsWith('rb_lti_'))).toEqual([]);
  });

  it('is accepted by POST login and sends an instructor to the course admin page', async () => {
    const r = await launch(spec(resourceLaunch(env, { sub: uniqueSub(), roles: [ROLE.instructor] })), {
      loginMethod: 'POST',
    });
    expect(r.launch!.status).toBe(303);
    const [course] = await rows<{ id: string }>(
      env.store,
      `SELECT id FROM courses WHERE tenant_id = $1 AND lti_context_id = 'ctx-1'`,
      [env.tenant.id],
    );
    expect(r.launch!.headers.get('location')).toMatch(new RegExp(`^/app/courses/${course.id}#lti_ticket=`));
  });

  it('accepts an empty roles claim and the short role form', async () => {
    expect((await launch(spec(resourceLaunch(env, { sub: uniqueSub(), roles: [] })))).launch!.status).toBe(303);
    const r = await launch(spec(resourceLaunch(env, { sub: uniqueSub(), roles: ['Instructor'] })));
    expect(r.launch!.headers.get('location')).toMatch(/^\/app\/courses\//);
  });

  it('accepts an anonymous launch (no sub) and matches it to nobody', async () => {
    const before = await rows<{ n: number }>(env.store, 'SELECT count(*)::int AS n FROM identity_links');
    const r = await launch(spec(resourceLaunch(env, { sub: null })));
    expect(r.launch!.status).toBe(303);
    expect(r.launch!.headers.get('location')).toMatch(/^\/app\/welcome/);
    const after = await rows<{ n: number }>(env.store, 'SELECT count(*)::int AS n FROM identity_links');
    expect(after[0].n).toBe(before[0].n);
  });

  it('accepts aud as an array with azp, and a second audience the tenant registered for the same issuer', async () => {
    await addPlatform(env.store, { actor: 'test' }, env.tenant.id, {
      issuer: env.emu.issuer,
      clientId: 'second-client',
      deploymentId: 'deploy-second',
      authLoginUrl: env.emu.authUrl,
      authTokenUrl: env.emu.tokenUrl,
      jwksUrl: env.emu.jwksUrl,
    });
    const r = await launch(
      spec(
        resourceLaunch(env, {
          sub: uniqueSub(),
          extra: { aud: [env.emu.clientId, 'second-client'], azp: env.emu.clientId },
        }),
        { keep: ['aud'] },
      ),
    );
    expect(r.launch!.status).toBe(303);
  });
});

describe('state and browser binding', () => {
  it('rejects a replayed state (the same form posted twice)', async () => {
    const r = await launch(spec(resourceLaunch(env, { sub: uniqueSub() })));
    expect(r.launch!.status).toBe(303);
    const again = await r.browser.submitForm(r.authPage!);
    expect(again.status).toBe(400);
    expect(await failedCheck(again)).toBe('state');
  });

  it('rejects a launch posted by another browser than the one that started the login', async () => {
    const r = await launch(spec(resourceLaunch(env, { sub: uniqueSub() })), { browser: new Browser(true) });
    expect(r.launch!.status).toBe(400);
    expect(await failedCheck(r.launch!)).toBe('browser');
  });

  it('rejects a launch whose browser cookie holds another value', async () => {
    // log in with one browser, then swap its cookie value before the launch
    const browser = new Browser();
    const hint = `swap-${n}`;
    env.emu.prepare(hint, spec(resourceLaunch(env, { sub: uniqueSub() })));
    const login = await browser.fetch(
      `${env.toolUrl}/lti/login?${new URLSearchParams({ iss: env.emu.issuer, login_hint: hint, target_link_uri: `${env.toolUrl}/lti/launch`, client_id: env.emu.clientId })}`,
    );
    for (const k of browser.cookies.keys()) browser.cookies.set(k, 'forged');
    const auth = await browser.fetch(login.headers.get('location')!);
    const res = await browser.submitForm(await auth.text());
    expect(await failedCheck(res)).toBe('browser');
  });

  it('rejects an unknown state', async () => {
    const res = await fetch(`${env.toolUrl}/lti/launch`, {
      method: 'POST',
      body: new URLSearchParams({ id_token: 'a.b.c', state: 'never-issued' }),
    });
    expect(res.status).toBe(400);
    expect(await failedCheck(res)).toBe('state');
  });

  it('rejects a launch without id_token as a 400 page, never a 500', async () => {
    const res = await fetch(`${env.toolUrl}/lti/launch`, { method: 'POST', body: new URLSearchParams({ state: 'x' }) });
    expect(res.status).toBe(400);
    expect(await failedCheck(res)).toBe('request');
    const json = await fetch(`${env.toolUrl}/lti/launch`, {
      method: 'POST',
      body: '{"id_token":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(400);
  });
});

describe('signature and header', () => {
  it('rejects alg none', () =>
    expectRejected(spec(resourceLaunch(env, { sub: uniqueSub() }), { signing: 'none' }), 'alg'));
  it('rejects HS256 keyed with the platform public key', () =>
    expectRejected(spec(resourceLaunch(env, { sub: uniqueSub() }), { signing: 'hs256-public-key' }), 'alg'));
  it('rejects a token without kid', () =>
    expectRejected(spec(resourceLaunch(env, { sub: uniqueSub() }), { header: { alg: 'RS256', typ: 'JWT' } }), 'kid'));
  it('rejects a kid the platform does not publish', () =>
    expectRejected(
      spec(resourceLaunch(env, { sub: uniqueSub() }), { header: { alg: 'RS256', kid: 'not-published' } }),
      'kid',
    ));
  it('rejects a signature made with another key under the published kid', () =>
    expectRejected(spec(resourceLaunch(env, { sub: uniqueSub() }), { signing: 'foreign-key' }), 'signature'));
  it('rejects a tampered payload', async () => {
    const browser = new Browser();
    const hint = `tamper-${n}`;
    env.emu.prepare(hint, spec(resourceLaunch(env, { sub: uniqueSub() })));
    const login = await browser.fetch(
      `${env.toolUrl}/lti/login?${new URLSearchParams({ iss: env.emu.issuer, login_hint: hint, target_link_uri: `${env.toolUrl}/lti/launch`, client_id: env.emu.clientId })}`,
    );
    const page = await (await browser.fetch(login.headers.get('location')!)).text();
    const token = /name="id_token" value="([^"]+)"/.exec(page)![1];
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.sub = 'someone-else';
    const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
    const res = await browser.submitForm(page.replace(token, forged));
    expect(await failedCheck(res)).toBe('signature');
  });
});

describe('claims', () => {
  const mutate = (f: (p: Record<string, unknown>) => void) => ({ mutate: f });
  it('rejects another issuer', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.iss = 'https://evil.example')),
      ),
      'iss',
    ));
  it('rejects an aud without our client_id', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.aud = 'someone-else')),
      ),
      'aud',
    ));
  it('rejects an untrusted extra aud', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => {
          p.aud = [env.emu.clientId, 'untrusted'];
          p.azp = env.emu.clientId;
        }),
      ),
      'aud',
    ));
  it('rejects an azp that is not our client_id', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.azp = 'another-client')),
      ),
      'azp',
    ));
  it('rejects several audiences without azp', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.aud = [env.emu.clientId, env.emu.clientId])),
      ),
      'azp',
    ));
  it('rejects an expired token', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => {
          p.iat = Math.floor(Date.now() / 1000) - 400;
          p.exp = Math.floor(Date.now() / 1000) - 100;
        }),
      ),
      'exp',
    ));
  it('rejects an expiry implausibly far in the future (found by fuzzing: it was a 500)', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.exp = 2e58)),
      ),
      'exp',
    ));
  it('tolerates small clock skew on exp', async () => {
    const r = await launch(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.exp = Math.floor(Date.now() / 1000) - 20)),
      ),
    );
    expect(r.launch!.status).toBe(303);
  });
  it('rejects iat in the future', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.iat = Math.floor(Date.now() / 1000) + 600)),
      ),
      'iat',
    ));
  it('rejects a nonce the tool never issued', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p.nonce = 'unissued-nonce')),
      ),
      'nonce',
    ));
  it('rejects a missing deployment_id', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => delete p[`${LTI_CLAIM}deployment_id`]),
      ),
      'deployment',
    ));
  it('rejects an unregistered deployment_id', () =>
    expectRejected(spec(resourceLaunch(env, { sub: uniqueSub(), deploymentId: 'nobody' })), 'deployment'));
  it("rejects another tenant's deployment (same issuer, other client_id)", async () => {
    const other = await createTenant(
      env.store,
      { actor: 'test' },
      { slug: `other-${process.pid}`, name: 'Other school' },
    );
    await addPlatform(env.store, { actor: 'test' }, other.id, {
      issuer: env.emu.issuer,
      clientId: 'other-school-client',
      deploymentId: 'deploy-other',
      authLoginUrl: env.emu.authUrl,
      authTokenUrl: env.emu.tokenUrl,
      jwksUrl: env.emu.jwksUrl,
    });
    await expectRejected(spec(resourceLaunch(env, { sub: uniqueSub(), deploymentId: 'deploy-other' })), 'deployment');
  });
  it('rejects a deployment other than the one named at login', () =>
    expectRejected(spec(resourceLaunch(env, { sub: uniqueSub(), deploymentId: 'deploy-second' })), 'deployment', {
      deploymentId: env.deploymentId,
    }));
  it('rejects an unsupported message type', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p[`${LTI_CLAIM}message_type`] = 'LtiSubmissionReviewRequest')),
      ),
      'message_type',
    ));
  it('rejects version 1.1', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p[`${LTI_CLAIM}version`] = '1.1')),
      ),
      'version',
    ));
  it('rejects a target_link_uri other than the login asked for', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p[`${LTI_CLAIM}target_link_uri`] = `${env.toolUrl}/lti/launch?other`)),
      ),
      'target_link_uri',
    ));
  it('refuses at login a target_link_uri that is not this tool', () =>
    expectRejected(spec(resourceLaunch(env, { sub: uniqueSub() })), 'target_link_uri', {
      targetLinkUri: 'https://evil.example/lti/launch',
    }));
  it('rejects a resource link launch without resource_link.id', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => (p[`${LTI_CLAIM}resource_link`] = { title: 'x' })),
      ),
      'resource_link',
    ));
  it('rejects a resource link launch without a course context', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => delete p[`${LTI_CLAIM}context`]),
      ),
      'context',
    ));
  it('rejects a launch without roles claim', () =>
    expectRejected(
      spec(
        resourceLaunch(env, { sub: uniqueSub() }),
        mutate((p) => delete p[`${LTI_CLAIM}roles`]),
      ),
      'roles',
    ));
  it('rejects an empty sub', () => expectRejected(spec(resourceLaunch(env, { sub: '' })), 'sub'));
  it('rejects a login from an unregistered platform', async () => {
    const res = await fetch(
      `${env.toolUrl}/lti/login?${new URLSearchParams({ iss: 'https://unknown.example', login_hint: 'x', target_link_uri: `${env.toolUrl}/lti/launch` })}`,
    );
    expect(res.status).toBe(400);
    expect(await failedCheck(res)).toBe('platform');
  });
  it('answers malformed requests with a 4xx, never a 500', async () => {
    const u = env.toolUrl;
    const form = (body: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(body) });
    const cases: Array<[string, RequestInit?]> = [
      [`${u}/lti/login`],
      [`${u}/lti/login?iss=${encodeURIComponent(env.emu.issuer)}&login_hint=x&target_link_uri=not%20a%20url`],
      [`${u}/lti/login`, { method: 'POST', body: '{"iss":1}', headers: { 'content-type': 'application/json' } }],
      [`${u}/lti/launch`, form({ id_token: 'x'.repeat(70_000), state: 's' })],
      [`${u}/lti/launch`, form({ id_token: 'a.b.c', state: 'x'.repeat(300) })],
      [
        `${u}/lti/launch`,
        {
          method: 'POST',
          body: 'id_token=%E0%A4%A&state=%',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      ],
      [`${u}/lti/launch`],
      [`${u}/lti/register`],
      [`${u}/lti/register?rb=nope&openid_configuration=x`],
      [
        `${u}/lti/session`,
        { method: 'POST', body: '{', headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' } },
      ],
      [
        `${u}/lti/session`,
        {
          method: 'POST',
          body: '{"ticket":"a.b.c"}',
          headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' },
        },
      ],
    ];
    for (const [url, init] of cases) {
      const res = await fetch(url, init);
      expect(res.status, `${init?.method ?? 'GET'} ${url.slice(0, 120)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${init?.method ?? 'GET'} ${url.slice(0, 120)}`).toBeLessThan(500);
    }
  });

  it('shows the request id on the error page and logs the details', async () => {
    const res = await fetch(`${env.toolUrl}/lti/launch`, {
      method: 'POST',
      body: new URLSearchParams({ id_token: 'x', state: 'y' }),
      headers: { 'x-request-id': 'corr-123' },
    });
    expect(await res.text()).toContain('data-request-id="corr-123"');
  });
});
