import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendName, onPostgres, testDatabaseConfig } from '../support/db.js';
import { runCli, spawnServer } from '../support/processes.js';

/** Environment for a child process pointing at this test's own database. */
async function childEnv() {
  const { config, cleanup } = await testDatabaseConfig();
  const env: Record<string, string> = { DATA_DIR: config.dataDir };
  if (config.databaseUrl) env.DATABASE_URL = config.databaseUrl;
  return { env, cleanup, dataDir: config.dataDir };
}

// Each step spawns a process; generous timeouts keep a loaded 2-core machine from failing them.
describe(`rosterbridge CLI (${backendName})`, { timeout: 120_000 }, () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ env, cleanup } = await childEnv()));
  afterAll(() => cleanup());

  it('seeds a demo school and says what to open next', async () => {
    const seeded = await runCli(['dev', 'seed', '--slug', 'demo-cli'], { ...env, PUBLIC_URL: 'http://localhost:4000' });
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toMatch(/50 people \(30 from the IdP, 20 waiting for their first sign-in\), 5 groups/);
    expect(seeded.stdout).toMatch(/admin API {2}rb_admin_\S+/);
    expect(seeded.stdout).toMatch(/SCIM {7}rb_scim_\S+/);
    expect(seeded.stdout).toContain('http://localhost:4000/dev/lms?tenant=demo-cli');
    const again = await runCli(['dev', 'seed', '--slug', 'demo-cli'], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('names an owner, adds an admin and hands ownership over', async () => {
    expect((await runCli(['tenant', 'create', '--slug', 'owned', '--name', 'Owned'], env)).code).toBe(0);
    const owner = await runCli(
      ['tenant', 'admin', 'add', '--tenant', 'owned', 'email:head@owned.example', '--owner'],
      env,
    );
    expect(owner.stdout).toContain('head@owned.example is now the owner of owned');
    const moved = await runCli(['tenant', 'owner', 'transfer', '--tenant', 'owned', '--to', 'operator:Desk'], env);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain('Desk now owns owned; head@owned.example stays an admin');
    const list = await runCli(['tenant', 'admins', '--tenant', 'owned', '--json'], env);
    expect(JSON.parse(list.stdout).map((a: { role: string; name: string }) => `${a.role}:${a.name}`)).toEqual([
      'owner:Desk',
      'admin:head@owned.example',
    ]);
    const refused = await runCli(['tenant', 'admin', 'remove', '--tenant', 'owned', 'operator:Desk'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/transfer ownership/);
  });

  it('creates and lists tenants, for humans and for scripts', async () => {
    const created = await runCli(
      ['tenant', 'create', '--slug', 'north-high', '--name', 'North High', '--seat-limit', '500', '--json'],
      env,
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      slug: 'north-high',
      name: 'North High',
      seatLimit: 500,
      status: 'active',
    });

    const human = await runCli(['tenant', 'list'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/slug\s+name[\s\S]*north-high\s+North High/);
    const json = await runCli(['tenant', 'list', '--json'], env);
    expect(JSON.parse(json.stdout).map((t: { slug: string }) => t.slug)).toContain('north-high');
  });

  it('creates a token shown once, lists it by prefix only, and revokes it', async () => {
    const created = await runCli(
      [
        'token',
        'create',
        '--tenant',
        'north-high',
        '--kind',
        'scim',
        '--name',
        'Entra',
        '--expires-in',
        '90d',
        '--json',
      ],
      env,
    );
    expect(created.code).toBe(0);
    const token = JSON.parse(created.stdout);
    expect(token.token).toMatch(/^rb_scim_[A-Za-z0-9_-]{43}$/);
    expect(new Date(token.expiresAt).getTime()).toBeGreaterThan(Date.now() + 89 * 86_400_000);

    const list = await runCli(['token', 'list', '--tenant', 'north-high', '--json'], env);
    expect(list.stdout).not.toContain(token.token);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ id: token.id, name: 'Entra', prefix: token.token.slice(0, 16) }),
    ]);

    const human = await runCli(['token', 'create', '--tenant', 'north-high', '--kind', 'admin'], env);
    expect(human.stdout).toMatch(/not shown again:\s+rb_admin_/);

    const revoked = await runCli(['token', 'revoke', '--tenant', 'north-high', token.id, '--json'], env);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout).revokedAt).toEqual(expect.any(String));
  });

  it.each([
    [['tenant', 'create', '--slug', 'x-only'], /--name is required/],
    [['tenant', 'create', '--slug', 'Bad Slug!', '--name', 'B'], /slug/],
    [['tenant', 'create', '--slug', 'north-high', '--name', 'Again'], /already exists/],
    [['token', 'create', '--tenant', 'nowhere', '--kind', 'admin'], /No tenant with slug "nowhere"/],
    [['token', 'create', '--tenant', 'north-high', '--kind', 'root'], /--kind must be one of scim, admin/],
    [['token', 'create', '--tenant', 'north-high', '--kind', 'admin', '--expires-in', 'soon'], /Invalid duration/],
    [['token', 'revoke', '--tenant', 'north-high', 'rb_admin_nope'], /No token/],
    [['tenant', 'create', '--slug', 'a1', '--name', 'A', '--colour', 'red'], /Unknown option '--colour'/],
    [['frobnicate'], /unknown command/],
  ])('%j fails with one line and exit code 2', async (args, message) => {
    const r = await runCli(args as string[], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n')[0]).toMatch(/^rosterbridge: /);
  });

  it('refuses a bad configuration value with exit code 2, naming the variable', async () => {
    const r = await runCli(['tenant', 'list'], { ...env, PORT: 'many' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT');
  });

  it('updates, suspends and soft-deletes a tenant; the slug is then free again', async () => {
    expect((await runCli(['tenant', 'create', '--slug', 'west-high', '--name', 'West High'], env)).code).toBe(0);
    const updated = await runCli(
      ['tenant', 'update', '--slug', 'west-high', '--seat-limit', '10', '--status', 'suspended', '--json'],
      env,
    );
    expect(JSON.parse(updated.stdout)).toMatchObject({ seatLimit: 10, status: 'suspended' });
    expect((await runCli(['tenant', 'update', '--slug', 'west-high', '--status', 'gone'], env)).code).toBe(2);
    expect((await runCli(['tenant', 'delete', '--slug', 'west-high'], env)).code).toBe(0);
    const list = JSON.parse((await runCli(['tenant', 'list', '--json'], env)).stdout);
    expect(list.map((t: { slug: string }) => t.slug)).not.toContain('west-high');
    expect((await runCli(['tenant', 'create', '--slug', 'west-high', '--name', 'West High (new)'], env)).code).toBe(0);
  });

  it('migrate is idempotent', async () => {
    const r = await runCli(['migrate'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/up to date/);
  });
});

describe(`the server and the CLI together (${backendName})`, { timeout: 120_000 }, () => {
  it('while the server runs, the CLI creates a tenant and an admin token that the API accepts', async () => {
    const { env, cleanup, dataDir } = await childEnv();
    const server = await spawnServer(env);
    try {
      expect((await runCli(['tenant', 'create', '--slug', 'east-primary', '--name', 'East Primary'], env)).code).toBe(
        0,
      );
      const token = JSON.parse(
        (await runCli(['token', 'create', '--tenant', 'east-primary', '--kind', 'admin', '--json'], env)).stdout,
      ).token;
      const ok = await fetch(`${server.url}/api/v1/tenant`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ slug: 'east-primary', name: 'East Primary' });
      const wrong = await fetch(`${server.url}/api/v1/tenant`, {
        headers: { authorization: `Bearer ${token.slice(0, -1)}x` },
      });
      expect(wrong.status).toBe(401);

      if (!onPostgres) {
        // Only one process may own an embedded DATA_DIR.
        const second = await spawnServer(env, 15_000).catch((e: Error) => e);
        expect(second).toBeInstanceOf(Error);
        expect((second as Error).message).toMatch(/is in use by process \d+/);
        expect(existsSync(join(dataDir, 'rosterbridge.lock'))).toBe(true);
      }
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      await cleanup();
    }
  });

  it('drains an in-flight request on SIGTERM, then closes the database and exits 0', async () => {
    const { env, cleanup, dataDir } = await childEnv();
    const server = await spawnServer(env);
    try {
      const { port } = new URL(server.url);
      // A request whose headers are not finished yet: in flight from the server's point of view.
      const socket = connect(Number(port), '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      let response = '';
      socket.on('data', (d) => (response += d));
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
      await new Promise((r) => setTimeout(r, 200));

      server.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      expect(server.child.exitCode).toBeNull(); // still draining
      await fetch(`${server.url}/healthz`).then(
        () => expect.fail('a new connection should be refused while draining'),
        (err: Error) => expect(err).toBeInstanceOf(Error),
      );

      socket.write('\r\n');
      expect(await server.exited).toBe(0);
      expect(response).toMatch(/^HTTP\/1\.1 200/);
      expect(response).toContain('{"status":"ok"}');
      if (!onPostgres) expect(existsSync(join(dataDir, 'rosterbridge.lock'))).toBe(false);
    } finally {
      server.child.kill('SIGKILL');
      await cleanup();
    }
  });

  it.skipIf(onPostgres)('keeps embedded data across restarts', async () => {
    const { env, cleanup } = await childEnv();
    try {
      expect((await runCli(['tenant', 'create', '--slug', 'kept', '--name', 'Kept'], env)).code).toBe(0);
      const server = await spawnServer(env);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      const list = await runCli(['tenant', 'list', '--json'], env);
      expect(JSON.parse(list.stdout).map((t: { slug: string }) => t.slug)).toEqual(['kept']);
    } finally {
      await cleanup();
    }
  });
});
