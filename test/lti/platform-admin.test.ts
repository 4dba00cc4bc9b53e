import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendName, testDatabaseConfig } from '../support/db.js';
import { runCli } from '../support/processes.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/** The platform registry through the admin API and the CLI: same operations, same rules. */
describe(`LTI platform admin API (${backendName})`, () => {
  let server: TestServer;
  let a: Awaited<ReturnType<typeof seedTenant>>;
  let b: Awaited<ReturnType<typeof seedTenant>>;
  beforeAll(async () => {
    server = await startTestServer();
    a = await seedTenant(server.store);
    b = await seedTenant(server.store);
  });
  afterAll(() => server?.close());

  const call = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  const canvas = {
    issuer: 'https://canvas.instructure.com',
    clientId: '10000000000001',
    authLoginUrl: 'https://sso.canvaslms.com/api/lti/authorize_redirect',
    authTokenUrl: 'https://sso.canvaslms.com/login/oauth2/token',
    jwksUrl: 'https://sso.canvaslms.com/api/lti/security/jwks',
  };

  it('registers the same Canvas issuer and client_id for two schools, told apart by deployment_id', async () => {
    const ra = await call(a.adminToken, 'POST', '/lti/platforms', {
      ...canvas,
      deploymentId: '1:aaa',
      trustEmail: true,
    });
    expect(ra.status).toBe(201);
    const pa = (await ra.json()) as { id: string; deploymentIds: string[]; trustEmail: boolean; identityClaim: string };
    expect(pa).toMatchObject({ deploymentIds: ['1:aaa'], trustEmail: true, identityClaim: 'lis.person_sourcedid' });
    expect((await call(b.adminToken, 'POST', '/lti/platforms', { ...canvas, deploymentId: '2:bbb' })).status).toBe(201);
    const conflict = await call(b.adminToken, 'POST', '/lti/platforms', { ...canvas, deploymentId: '1:aaa' });
    expect(conflict.status).toBe(409);
    const added = await call(a.adminToken, 'POST', `/lti/platforms/${pa.id}/deployments`, { deploymentId: '1:ccc' });
    expect(((await added.json()) as { deploymentIds: string[] }).deploymentIds).toEqual(['1:aaa', '1:ccc']);
    const listB = (await (await call(b.adminToken, 'GET', '/lti/platforms')).json()) as {
      platforms: Array<{ deploymentIds: string[] }>;
    };
    expect(listB.platforms.map((p) => p.deploymentIds)).toEqual([['2:bbb']]);
    expect((await call(b.adminToken, 'GET', `/lti/platforms/${pa.id}`)).status).toBe(404);
  });

  it('says which field is wrong, and never answers a 500 on bad input', async () => {
    const bad = await call(a.adminToken, 'POST', '/lti/platforms', {
      ...canvas,
      deploymentId: 'x',
      jwksUrl: 'not a url',
      identityClaim: 'email',
    });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { detail: string };
    expect(problem.detail).toMatch(/jwksUrl/);
    expect(problem.detail).toMatch(/identityClaim/);
    expect(
      (
        await fetch(`${server.url}/api/v1/lti/platforms`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' },
          body: '{',
        })
      ).status,
    ).toBe(400);
    expect((await call(a.adminToken, 'POST', '/lti/platforms', [])).status).toBe(400);
  });

  it('needs an admin token', async () => {
    expect((await call(a.scimToken, 'GET', '/lti/platforms')).status).toBe(403);
    expect((await fetch(`${server.url}/api/v1/lti/platforms`)).status).toBe(401);
  });

  it('hands out a one-time dynamic registration link and documents the operations', async () => {
    const r = await call(a.adminToken, 'POST', '/lti/registration-links');
    expect(r.status).toBe(201);
    expect(((await r.json()) as { url: string }).url).toMatch(/\/lti\/register\?rb=[\w-]+$/);
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/lti/platforms',
        '/api/v1/lti/platforms/{id}/deployments',
        '/api/v1/lti/registration-links',
      ]),
    );
  });
});

// Each CLI call is a fresh tsx process: seconds each on a busy 2-core machine.
describe(`LTI platform CLI (${backendName})`, { timeout: 120_000 }, () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const c = await testDatabaseConfig();
    env = { DATA_DIR: c.config.dataDir, PUBLIC_URL: 'https://rb.example' };
    if (c.config.databaseUrl) env.DATABASE_URL = c.config.databaseUrl;
    cleanup = c.cleanup;
    expect((await runCli(['tenant', 'create', '--slug', 'cli-school', '--name', 'CLI School'], env)).code).toBe(0);
  });
  afterAll(() => cleanup());

  /** The flags that name one deployment of the CLI school's platform with this issuer (client_id abc). */
  const deploymentFlags = (issuer: string, deploymentId: string) => [
    '--tenant',
    'cli-school',
    '--issuer',
    issuer,
    '--client-id',
    'abc',
    '--deployment-id',
    deploymentId,
  ];

  it('adds a platform, a deployment, lists them, prints a registration link and rotates keys', async () => {
    const add = await runCli(
      [
        'platform',
        'add',
        ...deploymentFlags('https://moodle.example', '1'),
        '--auth-login-url',
        'https://moodle.example/mod/lti/auth.php',
        '--auth-token-url',
        'https://moodle.example/mod/lti/token.php',
        '--jwks-url',
        'https://moodle.example/mod/lti/certs.php',
        '--jit',
        '--identity-claim',
        'custom.sis_id',
        '--json',
      ],
      env,
    );
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({
      issuer: 'https://moodle.example',
      jitCreate: true,
      trustEmail: false,
      identityClaim: 'custom.sis_id',
      deploymentIds: ['1'],
    });
    const dep = await runCli(['platform', 'deployment', 'add', ...deploymentFlags('https://moodle.example', '2')], env);
    expect(dep.code, dep.stderr).toBe(0);
    const list = await runCli(['platform', 'list', '--tenant', 'cli-school'], env);
    expect(list.stdout).toMatch(/https:\/\/moodle\.example\s+abc\s+1,2\s+custom\.sis_id/);
    const link = await runCli(['platform', 'register-link', '--tenant', 'cli-school', '--json'], env);
    expect(JSON.parse(link.stdout).url).toMatch(/^https:\/\/rb\.example\/lti\/register\?rb=/);
    const rotate = await runCli(['keys', 'rotate', '--json'], env);
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(JSON.parse(rotate.stdout).kid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('fails with exit code 2 and the reason on bad input', async () => {
    const r = await runCli(['platform', 'add', '--tenant', 'cli-school', '--issuer', 'x'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--client-id is required/);
    const dup = await runCli(['platform', 'deployment', 'add', ...deploymentFlags('https://nowhere', '9')], env);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/no platform/i);
  });
});
