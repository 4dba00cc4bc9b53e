/**
 * Cost of one durable SCIM user create in our server, per operation (issue #13): the server
 * process's CPU, PostgreSQL's backend CPU for the server's connections, and transactions per
 * create (a statement in autocommit counts one). `npx tsx bench/scim-cost.ts`; DATABASE_URL
 * defaults to the local server. Not a *.bench.ts file: `npm run bench` does not run it.
 * synchronous_commit stays on: every 201 is durable.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { createStore } from '../src/db/store.js';
import { createTenant } from '../src/domain/tenants.js';
import { createToken } from '../src/domain/tokens.js';
import { createDatabaseOnServer } from '../test/support/db.js';

const CREATES = Number(process.env.CREATES ?? 2000);
const WARM_UP = Number(process.env.WARM_UP ?? 300);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const BENCH = fileURLToPath(new URL('./lti.bench.ts', import.meta.url));
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';

function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const dbServer = await createDatabaseOnServer();
const dbName = new URL(dbServer.url).pathname.slice(1);
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
// The same child as the LTI benchmark: the whole server, in its own process.
const child = spawn(
  process.execPath,
  ['--import', 'tsx', BENCH, '--serve-ours', JSON.stringify({ url, databaseUrl: dbServer.url })],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'silent' } },
);
await new Promise<void>((resolve, reject) => {
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
    if (out.includes('READY')) resolve();
  });
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const db = await connectDatabase(loadConfig({ DATABASE_URL: dbServer.url, LOG_LEVEL: 'silent' }), { poolMax: 1 });
const store = createStore(db.sequelize);
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
try {
  const tenant = await createTenant(store, { actor: 'bench' }, { slug: 'scim-cost', name: 'SCIM cost' });
  const { token } = await createToken(store, { actor: 'bench' }, { tenantId: tenant.id, kind: 'scim' });
  const body = (u: string) =>
    JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: u,
      name: { givenName: 'Bench', familyName: 'User' },
      emails: [{ value: u, type: 'work', primary: true }],
      active: true,
    });
  const run = async (prefix: string, n: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          const i = next++;
          const res = await fetch(`${url}/scim/v2/Users`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
            body: body(`${prefix}${i}@bench.example`),
          });
          if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
  };
  await run('warm-', WARM_UP);
  const backends = async () =>
    (
      await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [dbName],
      )
    ).rows.map((r) => r.pid);
  const xacts = async () => {
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const r = await admin.query<{ x: string }>(
      `SELECT xact_commit + xact_rollback AS x FROM pg_stat_database WHERE datname = $1`,
      [dbName],
    );
    return Number(r.rows[0].x);
  };
  await new Promise((r) => setTimeout(r, 1500));
  const x0 = await xacts();
  const pgBefore = new Map((await backends()).map((p) => [p, cpuMs(p)]));
  const toolBefore = cpuMs(child.pid!);
  const t0 = performance.now();
  await run('m-', CREATES);
  const secs = (performance.now() - t0) / 1000;
  const toolMs = cpuMs(child.pid!) - toolBefore;
  let pgMs = 0;
  for (const p of await backends()) pgMs += cpuMs(p) - (pgBefore.get(p) ?? 0);
  await new Promise((r) => setTimeout(r, 1500));
  const x1 = await xacts();
  console.log(
    `SCIM POST /Users, ${CREATES} creates after ${WARM_UP} warm-up, ${CONCURRENCY} clients (synchronous_commit on)`,
  );
  console.log(`  server process CPU: ${(toolMs / CREATES).toFixed(3)} ms per create`);
  console.log(`  PostgreSQL CPU:     ${(pgMs / CREATES).toFixed(3)} ms per create (the server's backends)`);
  console.log(`  transactions:       ${((x1 - x0) / CREATES).toFixed(2)} per create`);
  console.log(`  throughput (shared machine, indicative): ${(CREATES / secs).toFixed(0)} creates/s`);
} finally {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  await admin.end();
  await db.close();
  await dbServer.drop();
}
