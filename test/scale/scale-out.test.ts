import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabaseOnServer, onPostgres } from '../support/db.js';
import { hasPgBouncer, startPgBouncer, type Bouncer } from '../support/pgbouncer.js';
import {
  LTI_CLAIM,
  platformAddArgs,
  runLaunch,
  startPlatformEmulator,
  type PlatformEmulator,
} from '../support/platform-emulator.js';
import { freePort, runCli, spawnServer, type ServerProcess } from '../support/processes.js';
import { startRoundRobin, type RoundRobin } from '../support/round-robin.js';

/**
 * Three instances on one PostgreSQL, through PgBouncer in transaction mode, behind a round-robin
 * load balancer with no sticky sessions (docs/operations.md): a login on one instance and its
 * launch on another work; a token revoked anywhere is refused everywhere within a second; cached
 * authorization decisions follow a grant made on another instance; the SCIM rate limit is one
 * budget across instances.
 */
const runs = onPostgres && hasPgBouncer();
const INSTANCES = 3;
if (!runs) console.log("scale-out test skipped: it needs PostgreSQL (DATABASE_URL) and Debian's pgbouncer");

describe.skipIf(!runs)('scale-out: three instances, PgBouncer (transaction mode), no sticky sessions', () => {
  let db: Awaited<ReturnType<typeof createDatabaseOnServer>>;
  let bouncer: Bouncer;
  let lb: RoundRobin;
  let emu: PlatformEmulator;
  const instances: ServerProcess[] = [];
  let cliEnv: Record<string, string>;
  let adminToken: string;
  let adminTokenId: string;
  let scimToken: string;

  const cli = async (args: string[]) => {
    const r = await runCli([...args, '--json'], cliEnv);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    db = await createDatabaseOnServer();
    const direct = new URL(db.url);
    bouncer = await startPgBouncer({ host: '127.0.0.1', port: Number(direct.port || 5432) });
    const lbPort = await freePort();
    const env = {
      DATABASE_URL: bouncer.via(db.url),
      DATABASE_LISTEN_URL: db.url, // LISTEN needs a session: straight to PostgreSQL
      PUBLIC_URL: `http://127.0.0.1:${lbPort}`,
      SCIM_RATE_LIMIT_PER_MINUTE: '60',
    };
    cliEnv = { DATABASE_URL: db.url };
    for (let i = 0; i < INSTANCES; i++) instances.push(await spawnServer(env, 60_000));
    lb = await startRoundRobin(() => instances.map((s) => s.url), lbPort);
    await cli(['tenant', 'create', '--slug', 'scaled', '--name', 'Scaled School']);
    const admin = await cli(['token', 'create', '--tenant', 'scaled', '--kind', 'admin']);
    adminToken = admin.token;
    adminTokenId = admin.id;
    scimToken = (await cli(['token', 'create', '--tenant', 'scaled', '--kind', 'scim'])).token;
    emu = await startPlatformEmulator();
    await cli(platformAddArgs('scaled', emu, 'scaled-deploy'));
  }, 240_000);

  afterAll(async () => {
    for (const s of instances) s.child.kill('SIGTERM');
    await Promise.all(instances.map((s) => s.exited));
    await lb?.close();
    await emu?.close();
    await bouncer?.stop();
    await db?.drop();
  });

  const on = (i: number, path: string, init: RequestInit = {}, token = adminToken) =>
    fetch(`${instances[i].url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });

  /** Milliseconds until every instance gives `want` for `probe`, polling every 25 ms (at most 5 s). */
  async function untilAll(probe: (i: number) => Promise<unknown>, want: unknown): Promise<number> {
    const start = Date.now();
    for (;;) {
      const got = await Promise.all(instances.map((_, i) => probe(i)));
      if (got.every((g) => g === want)) return Date.now() - start;
      if (Date.now() - start > 5_000) throw new Error(`after 5 s: ${JSON.stringify(got)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const launch = (sub: string, extra: Record<string, unknown> = {}) =>
    runLaunch(
      emu,
      {
        payload: {
          sub,
          [`${LTI_CLAIM}message_type`]: 'LtiResourceLinkRequest',
          [`${LTI_CLAIM}version`]: '1.3.0',
          [`${LTI_CLAIM}deployment_id`]: 'scaled-deploy',
          [`${LTI_CLAIM}target_link_uri`]: `${lb.url}/lti/launch`,
          [`${LTI_CLAIM}resource_link`]: { id: 'rl-1' },
          [`${LTI_CLAIM}roles`]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
          [`${LTI_CLAIM}context`]: { id: 'ctx-scaled', title: 'Scaled' },
          ...extra,
        },
      },
      { toolUrl: lb.url },
    );

  it('launches where the login happened on another instance', async () => {
    for (let n = 0; n < 6; n++) {
      const before = lb.served.length;
      const r = await launch(`scaled-user-${n}`);
      expect(r.launch?.status, r.authPage?.slice(0, 300)).toBe(303);
      const [login, done] = lb.served.slice(before);
      expect(login.path).toMatch(/^\/lti\/login/);
      expect(done.path).toBe('/lti/launch');
      expect(done.backend).not.toBe(login.backend);
    }
  });

  it('refuses a revoked admin token on every instance within a second', async () => {
    for (let i = 0; i < INSTANCES; i++) expect((await on(i, '/api/v1/tenant')).status).toBe(200); // cached now
    await cli(['token', 'revoke', '--tenant', 'scaled', adminTokenId]);
    const ms = await untilAll(async (i) => (await on(i, '/api/v1/tenant')).status, 401);
    console.log(`scale-out: revoked token refused by all ${INSTANCES} instances after ${ms} ms`);
    expect(ms).toBeLessThanOrEqual(1_000);
    adminToken = (await cli(['token', 'create', '--tenant', 'scaled', '--kind', 'admin'])).token;
  });

  it('keeps cached authorization decisions correct when another instance grants', async () => {
    // An active person (their launch made them) in a course of their own.
    const first = await launch('scaled-ta', { email: 'ta@scaled.example', name: 'Tess Assistant' });
    expect(first.launch?.status).toBe(303);
    const list = (await (await on(0, '/api/v1/courses')).json()) as { items: Array<{ id: string; title: string }> };
    const courseId = list.items.find((c) => c.title === 'Scaled')!.id;
    const ask = async (i: number) => {
      const res = await on(i, '/api/v1/authorize', {
        method: 'POST',
        body: JSON.stringify({ course: courseId, person: 'email:ta@scaled.example', privilege: 'grades.edit' }),
      });
      return ((await res.json()) as { allowed?: boolean }).allowed ?? `status ${res.status}`;
    };
    const grant = (i: number, allow: string[]) =>
      on(i, `/api/v1/courses/${courseId}/privileges/email:ta@scaled.example`, {
        method: 'PUT',
        body: JSON.stringify({ allow, deny: [] }),
      });
    expect((await grant(0, ['grades.view'])).status).toBeLessThan(300);
    await untilAll(ask, false); // every instance has the decision cached now
    expect((await grant(1, ['grades.view', 'grades.edit'])).status).toBeLessThan(300);
    const ms = await untilAll(ask, true);
    console.log(`scale-out: a grant made on instance 2 reached every instance's cache after ${ms} ms`);
    expect(ms).toBeLessThanOrEqual(1_000);
  });

  it('holds one SCIM rate limit across instances', async () => {
    const statuses: number[] = [];
    for (let n = 0; n < 90; n++) {
      const res = await fetch(`${lb.url}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${scimToken}` } });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    const ok = statuses.filter((s) => s === 200).length;
    console.log(`scale-out: 90 SCIM requests over ${INSTANCES} instances with a limit of 60/min: ${ok} answered 200`);
    expect(ok).toBe(60);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
  });
});
