import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres } from '../support/db.js';
import { canStartCluster, startPrivateCluster, type PrivateCluster } from '../support/pg-cluster.js';
import { platformAddArgs, startPlatformEmulator, type PlatformEmulator } from '../support/platform-emulator.js';
import { freePort, runCli, spawnServer, type ServerProcess } from '../support/processes.js';
import { newLedger, runLoad, type Ledger, type Target } from './load.js';

/**
 * Faults under mixed load, on a private PostgreSQL cluster the test starts (so the shared server
 * is never touched): the database stopped and started again, then the service killed with
 * SIGKILL and started again. Requests fail fast with 503 and Retry-After, /readyz follows the
 * database, the service recovers without a restart, and every write acknowledged with a 2xx is
 * there afterwards, whole: no partial group, bulk or grant.
 */
const LOAD_SECONDS = Number(process.env.FAULT_LOAD_SECONDS ?? 60);
const runs = onPostgres && canStartCluster();
if (!runs)
  console.log('fault tests skipped: they need PostgreSQL (DATABASE_URL) and its pg_ctl to start a private cluster');

describe.skipIf(!runs)('faults under load (a private PostgreSQL cluster)', () => {
  let cluster: PrivateCluster;
  let server: ServerProcess;
  let emu: PlatformEmulator;
  let target: Target;
  let env: Record<string, string>;

  const sql = async <T>(text: string, values: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: cluster.url });
    await c.connect();
    try {
      return (await c.query(text, values)).rows as T[];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    const port = await freePort();
    env = {
      DATABASE_URL: cluster.url,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      SCIM_RATE_LIMIT_PER_MINUTE: '1000000',
    };
    server = await spawnServer(env, 60_000);
    const cli = async (args: string[]) => {
      const r = await runCli([...args, '--json'], env);
      if (r.code !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout);
    };
    const tenant = await cli(['tenant', 'create', '--slug', 'faulty', '--name', 'Faulty School']);
    const scim = await cli(['token', 'create', '--tenant', 'faulty', '--kind', 'scim']);
    const admin = await cli(['token', 'create', '--tenant', 'faulty', '--kind', 'admin']);
    emu = await startPlatformEmulator();
    await cli(platformAddArgs('faulty', emu, 'load-deploy'));
    const course = await fetch(`${server.url}/api/v1/courses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Fault tolerance' }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    expect(tenant.slug).toBe('faulty');
    target = {
      url: () => server.url,
      scimToken: scim.token,
      adminToken: admin.token,
      courseId: course.id,
      emu,
      deploymentId: 'load-deploy',
    };
  }, 180_000);

  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await emu?.close();
    await cluster?.destroy();
  });

  /** Every acknowledged write is there, whole. */
  async function verify(ledger: Ledger) {
    const names = [...ledger.users.keys()];
    const people = await sql<{ user_name: string; display_name: string | null }>(
      'SELECT user_name, display_name FROM people WHERE lower(user_name) = ANY($1)',
      [names.map((n) => n.toLowerCase())],
    );
    const found = new Map(people.map((p) => [p.user_name.toLowerCase(), p.display_name]));
    const lost = names.filter((n) => !found.has(n.toLowerCase()));
    expect(lost, 'acknowledged SCIM creates missing').toEqual([]);
    const wrongNames = [...ledger.users.entries()].filter(([n, u]) => {
      if (u.displayName === null) return false;
      const stored = found.get(n.toLowerCase()) ?? null;
      return stored !== u.displayName && !u.pending.has(stored ?? '');
    });
    expect(
      wrongNames.map(([n]) => n),
      'acknowledged PATCHes lost',
    ).toEqual([]);

    for (const [groupId, members] of ledger.groups) {
      const rows = await sql<{ member_id: string }>(
        'SELECT member_id::text FROM group_members WHERE group_id = $1 ORDER BY 1',
        [groupId],
      );
      expect(rows.map((r) => r.member_id).sort(), `group ${groupId}`).toEqual(members);
    }
    const grants = await sql<{ email: string }>(
      `SELECT e.value AS email FROM privilege_grants g JOIN person_emails e ON e.person_id = g.person_id
        WHERE g.privilege = 'grades.view' AND e.value = ANY($1)`,
      [[...ledger.grants]],
    );
    expect(
      [...ledger.grants].filter((e) => !grants.some((g) => g.email === e)),
      'grants lost',
    ).toEqual([]);
    const links = await sql<{ sub: string }>('SELECT sub FROM identity_links WHERE sub = ANY($1)', [
      [...ledger.launches],
    ]);
    expect(links.length, 'launches without their identity link').toBe(ledger.launches.size);
  }

  it(
    `survives PostgreSQL stopped and started again during ${LOAD_SECONDS} s of mixed load`,
    async () => {
      const ledger = newLedger();
      const started = Date.now();
      const elapsed = () => (Date.now() - started) / 1000;
      const load = runLoad(target, ledger, () => elapsed() >= LOAD_SECONDS);
      const readiness: number[] = [];
      const probe = setInterval(() => {
        fetch(`${server.url}/readyz`)
          .then((r) => readiness.push(r.status))
          .catch(() => readiness.push(0));
      }, 250);

      await new Promise((r) => setTimeout(r, (LOAD_SECONDS / 4) * 1000));
      const before = ledger.requests;
      await cluster.stop('fast');
      await new Promise((r) => setTimeout(r, 5_000));
      const during = ledger.statuses['503'] ?? 0;
      await cluster.start();
      await new Promise((r) => setTimeout(r, (LOAD_SECONDS / 4) * 1000));
      await cluster.restart(); // and once more, quickly
      await load;
      clearInterval(probe);

      console.log(
        `fault: PostgreSQL stop/start + restart: ${ledger.requests} requests, statuses ${JSON.stringify(ledger.statuses)}, ` +
          `${ledger.users.size} users, ${ledger.groups.size} groups, ${ledger.grants.size} grants, ${ledger.launches.size} launches acknowledged, ` +
          `slowest failure ${ledger.slowestFailureMs} ms`,
      );
      if (ledger.anomalies.length)
        console.log(
          server
            .output()
            .split('\n')
            .filter((l) => /"level":(40|50)/.test(l))
            .slice(0, 3)
            .join('\n'),
        );
      expect(ledger.anomalies).toEqual([]);
      expect(during, 'requests answered 503 while the database was down').toBeGreaterThan(0);
      expect(ledger.requests).toBeGreaterThan(before);
      expect(ledger.slowestFailureMs).toBeLessThan(16_000);
      expect(readiness).toContain(503);
      expect(readiness.at(-1)).toBe(200);
      expect(ledger.unanswered).toBe(0); // the process itself never went away
      expect(ledger.users.size).toBeGreaterThan(20);
      expect(ledger.launches.size).toBeGreaterThan(5);
      await verify(ledger);
    },
    (LOAD_SECONDS + 120) * 1000,
  );

  it('keeps every acknowledged write when the service is killed with SIGKILL and started again', async () => {
    const ledger = newLedger();
    const started = Date.now();
    const seconds = Math.max(20, LOAD_SECONDS / 2);
    const load = runLoad(target, ledger, () => (Date.now() - started) / 1000 >= seconds);
    await new Promise((r) => setTimeout(r, (seconds / 3) * 1000));
    server.child.kill('SIGKILL');
    await server.exited;
    server = await spawnServer(env, 60_000);
    await load;
    console.log(
      `fault: SIGKILL + restart: ${ledger.requests} requests (${ledger.unanswered} unanswered), statuses ${JSON.stringify(ledger.statuses)}, ` +
        `${ledger.users.size} users, ${ledger.groups.size} groups, ${ledger.grants.size} grants, ${ledger.launches.size} launches acknowledged`,
    );
    expect(ledger.anomalies).toEqual([]);
    expect(ledger.unanswered).toBeGreaterThan(0);
    expect(ledger.users.size).toBeGreaterThan(20);
    await verify(ledger);
  }, 240_000);
});
