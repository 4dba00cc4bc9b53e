/**
 * SCIM benchmark on PostgreSQL (DATABASE_URL; `npm run bench -- scim`). Each run creates its own
 * databases (ours, Better Auth's) and drops them.
 *
 *  1. Creates per second, 8 concurrent clients (closed loop, in a worker thread), rounds
 *     alternating between: ours; Better Auth 1.7.5's SCIM plugin on PostgreSQL (the durable peer);
 *     SCIMMY + scimmy-routers keeping users in memory (the Node reference library); and raw `pg`
 *     single-row INSERTs into our people table (the floor for a durable create). Each runs in its
 *     own process. Only 201s count, and each system's stored rows are checked against that count.
 *     Per create: the server process's CPU, its PostgreSQL backends' CPU, and statements sent.
 *     Goals (issue 13): ≥ 5× Better Auth, ≥ 1.0× SCIMMY.
 *  2. `userName eq` lookups under 8 concurrent clients, each system over the users it just created.
 *  3. Ours alone: `userName eq` p50 at 1,000 and 100,000 people (≤ 3 ms, ratio ≤ 1.5), and a page of
 *     100 by cursor at offset 50,000 vs page 1 (ratio ≤ 2). The 100k people are bulk-loaded with SQL.
 */
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { QueryTypes } from 'sequelize';
import { encodeCursor } from '../scim/common.js';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { createStore } from '../src/db/store.js';
import { createTenant } from '../src/domain/tenants.js';
import { createToken } from '../src/domain/tokens.js';
import { createDatabaseOnServer } from '../test/support/db.js';
import {
  type ChildServer,
  databaseName,
  emptyCost,
  fmt,
  machineLine,
  type MeasuredSubject,
  measured,
  perOp,
  startChildServer,
  table,
} from './support.js';

const CONCURRENCY = 8;
const SECONDS = Number(process.env.SCIM_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.SCIM_BENCH_ROUNDS ?? 3);
const LOOKUP_SECONDS = Number(process.env.SCIM_BENCH_LOOKUP_SECONDS ?? 3);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);

let missed = 0;
function verdict(label: string, ok: boolean) {
  if (!ok) missed++;
  return `${label}: ${ok ? 'met' : 'NOT MET'}`;
}

/**
 * The load generator, in a worker thread so the clients' HTTP and JSON work does not share an
 * event loop with anything measured. Closed loop: `concurrency` clients for `seconds`.
 *  - create: POST /Users, counts 201s;
 *  - lookup: GET /Users?filter=userName eq "…" over names created earlier, counts 200s that found
 *    exactly one, and reports latency percentiles.
 */
const LOAD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { mode, base, token, prefix, names, seconds, concurrency } = workerData;
const headers = { Authorization: 'Bearer ' + token, 'Content-Type': 'application/scim+json' };
const body = (u) => JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: u,
  name: { givenName: 'Bench', familyName: 'User' }, emails: [{ value: u, type: 'work', primary: true }], active: true });
(async () => {
  let ok = 0, failed = 0, firstFailure, next = 0;
  const created = [];
  const latencies = [];
  const until = performance.now() + seconds * 1000;
  const once = async () => {
    const i = next++;
    const t0 = performance.now();
    if (mode === 'create') {
      const userName = prefix + i + '@bench.example';
      const res = await fetch(base + '/Users', { method: 'POST', headers, body: body(userName) });
      const text = await res.text();
      if (res.status === 201) { ok++; created.push(userName); }
      else { failed++; firstFailure ??= res.status + ' ' + text.slice(0, 300); }
    } else {
      const userName = names[(i * 7919) % names.length];
      const res = await fetch(base + '/Users?filter=' + encodeURIComponent('userName eq "' + userName + '"'), { headers });
      const text = await res.text();
      latencies.push(performance.now() - t0);
      if (res.status === 200 && JSON.parse(text).totalResults === 1) ok++;
      else { failed++; firstFailure ??= res.status + ' ' + text.slice(0, 300); }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) await once().catch((err) => { failed++; firstFailure ??= String(err); });
  }));
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  parentPort.postMessage({ ok, failed, firstFailure, seconds: (performance.now() - started) / 1000,
    created, p50: q(0.5), p99: q(0.99) });
})().catch((err) => { throw err; });
`;

interface LoadResult {
  ok: number;
  failed: number;
  firstFailure?: string;
  seconds: number;
  created: string[];
  p50?: number;
  p99?: number;
}

function load(data: Record<string, unknown>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(LOAD_WORKER, { eval: true, workerData: { concurrency: CONCURRENCY, ...data } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/** A system under test; `stored()` counts rows proving a create was kept. */
interface System extends MeasuredSubject {
  /** SCIM base URL and token (absent for raw pg, which is driven over IPC). */
  base?: string;
  token?: string;
  created: string[];
}

async function createRound(s: System, prefix: string, seconds: number): Promise<LoadResult> {
  if (!s.base) {
    const r = await s.server.call<{ ok: number; failed: number; seconds: number }>({
      type: 'run',
      seconds,
      concurrency: CONCURRENCY,
      prefix,
    });
    return { ...r, created: [] };
  }
  return load({ mode: 'create', base: s.base, token: s.token, prefix, seconds });
}

async function timeGet(url: string, token: string, samples = SAMPLES, warmup = 30): Promise<number> {
  const once = async () => {
    const started = performance.now();
    const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    return performance.now() - started;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await once());
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function main() {
  console.log(machineLine());
  const oursDb = await createDatabaseOnServer();
  const baDb = await createDatabaseOnServer();
  const servers: ChildServer[] = [];
  const baPool = new pg.Pool({ connectionString: baDb.url, max: 1 });
  let db: Awaited<ReturnType<typeof connectDatabase>> | undefined;
  try {
    const ours = await startChildServer('ours', {
      databaseUrl: oursDb.url,
      env: { SCIM_RATE_LIMIT_PER_MINUTE: '100000000' },
    });
    servers.push(ours);
    db = await connectDatabase(loadConfig({ DATABASE_URL: oursDb.url, LOG_LEVEL: 'silent' }), { poolMax: 2 });
    const seq = db.sequelize;
    const store = createStore(seq);
    const ctx = { actor: 'bench' };
    const tenant = await createTenant(store, ctx, { slug: 'bench-creates', name: 'Bench creates' });
    const { token } = await createToken(store, ctx, { tenantId: tenant.id, kind: 'scim' });
    const rawTenant = await createTenant(store, ctx, { slug: 'bench-raw', name: 'Bench raw' });
    const ba = await startChildServer<{ token: string }>('better-auth', { databaseUrl: baDb.url });
    servers.push(ba);
    const scimmy = await startChildServer('scimmy', {});
    servers.push(scimmy);
    const raw = await startChildServer('raw-pg', {
      databaseUrl: oursDb.url,
      tenantId: rawTenant.id,
      concurrency: CONCURRENCY,
    });
    servers.push(raw);

    const people = async (tenantId: string) =>
      Number(
        (
          await seq.query<{ n: number }>('SELECT count(*)::int AS n FROM people WHERE tenant_id = $1', {
            bind: [tenantId],
            type: QueryTypes.SELECT,
          })
        )[0].n,
      );
    const system = (s: Omit<System, 'cost' | 'seconds' | 'rounds' | 'failed' | 'verified' | 'created'>): System => ({
      ...s,
      cost: emptyCost(),
      seconds: 0,
      rounds: [],
      failed: 0,
      verified: 0,
      created: [],
    });
    const systems: System[] = [
      system({
        name: 'rosterbridge',
        server: ours,
        base: `${ours.info.url}/scim/v2`,
        token,
        database: databaseName(oursDb.url),
        stored: () => people(tenant.id),
        storedWhat: 'people rows',
      }),
      system({
        name: 'Better Auth SCIM (PostgreSQL)',
        server: ba,
        base: ba.info.url,
        token: ba.info.token,
        database: databaseName(baDb.url),
        stored: async () => Number((await baPool.query('SELECT count(*)::int AS n FROM "scimUser"')).rows[0].n),
        storedWhat: 'scimUser rows',
      }),
      system({
        name: 'SCIMMY (memory)',
        server: scimmy,
        base: scimmy.info.url,
        token: 'bench',
        stored: async () => (await scimmy.stats()).extra.users ?? 0,
        storedWhat: 'users in its Map',
      }),
      system({
        name: 'raw pg INSERT (floor)',
        server: raw,
        database: databaseName(oursDb.url),
        stored: () => people(rawTenant.id),
        storedWhat: 'people rows',
      }),
    ];
    console.log(
      `PostgreSQL ${(await baPool.query('SHOW server_version')).rows[0].server_version}; SCIM creates: ${CONCURRENCY} concurrent clients, ${ROUNDS} rounds × ${SECONDS} s per system, rounds alternating; each system in its own process`,
    );

    // 1. creates/s
    for (const s of systems) {
      const w = await createRound(s, `warm-${s.name.length}-`, 1); // JIT, pools, caches
      if (w.ok === 0) throw new Error(`${s.name}: no create succeeded in warm-up; first failure: ${w.firstFailure}`);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of systems) {
        const before = await s.stored();
        const res = await measured(s.cost, s.server, s.database, () => createRound(s, `u${r}-`, SECONDS));
        s.verified += (await s.stored()) - before;
        s.seconds += res.seconds;
        s.rounds.push(res.ok / res.seconds);
        s.failed += res.failed;
        s.firstFailure ??= res.firstFailure;
        s.created.push(...res.created);
      }
    }
    const rate = (s: System) => s.cost.ops / s.seconds;
    console.log(
      table([
        ['system', 'creates/s', 'rounds', 'failed', 'stored = 201s', 'tool CPU ms/op', 'PG CPU ms/op', 'statements/op'],
        ...systems.map((s) => [
          s.name,
          fmt(rate(s), 0),
          s.rounds.map((x) => fmt(x, 0)).join(' / '),
          String(s.failed),
          `${s.verified === s.cost.ops ? 'yes' : 'NO'} (${s.verified} ${s.storedWhat})`,
          fmt(perOp(s.cost, 'toolCpuMs'), 2),
          s.database ? fmt(perOp(s.cost, 'pgCpuMs'), 2) : '—',
          s.database ? fmt(perOp(s.cost, 'queries'), 1) : '—',
        ]),
      ]),
    );
    for (const s of systems)
      if (s.firstFailure) console.log(`  (${s.name}: ${s.failed} failed, first: ${s.firstFailure})`);
    const [o, b, m, f] = systems.map(rate);
    console.log(
      `  ratio rosterbridge/Better Auth ${fmt(o / b, 2)}× (${verdict('goal ≥ 5×', o / b >= 5)}); rosterbridge/SCIMMY ${fmt(o / m, 2)}× (${verdict('goal ≥ 1.0×', o / m >= 1)}); share of the raw INSERT rate ${fmt(o / f, 2)}`,
    );
    const both = (s: System) => perOp(s.cost, 'toolCpuMs') + (s.database ? perOp(s.cost, 'pgCpuMs') : 0);
    console.log(
      `  CPU per create, server + PostgreSQL: ${systems.map((s) => `${s.name} ${fmt(both(s), 2)} ms`).join(', ')}`,
    );
    console.log(
      '  notes: statements = pg Client#query calls by the server process (BEGIN/COMMIT included); PG CPU = backends of its own database (from /proc), without the shared WAL writer; the load generator (a worker thread of the bench process) shares the 2 cores.',
    );

    // 2. userName eq under 8 clients, each system over the users it created
    console.log(`\nuserName eq lookups: ${CONCURRENCY} concurrent clients, ${LOOKUP_SECONDS} s, names it created`);
    const rows: string[][] = [['system', 'users', 'lookups/s', 'p50 ms', 'p99 ms', 'failed']];
    const failures: string[] = [];
    for (const s of systems.slice(0, 3)) {
      const names = s.created;
      await load({ mode: 'lookup', base: s.base, token: s.token, names, seconds: 0.5 });
      const r = await load({ mode: 'lookup', base: s.base, token: s.token, names, seconds: LOOKUP_SECONDS });
      rows.push([
        s.name,
        String(await s.stored()),
        fmt(r.ok / r.seconds, 0),
        fmt(r.p50!, 2),
        fmt(r.p99!, 2),
        String(r.failed),
      ]);
      if (r.firstFailure) failures.push(`  (${s.name}: first failure: ${r.firstFailure})`);
    }
    console.log(table(rows));
    for (const f of failures) console.log(f);

    // 3. ours alone: userName eq at 1,000 and 100,000 people (bulk-loaded with SQL); cursor paging
    const big = await createTenant(store, ctx, { slug: 'bench-district', name: 'Bench district' });
    const { token: bigToken } = await createToken(store, ctx, { tenantId: big.id, kind: 'scim' });
    const base = `${ours.info.url}/scim/v2`;
    const bulk = async (from: number, to: number) => {
      await seq.query(
        `INSERT INTO people (tenant_id, status, source, user_name, external_id, primary_email, given_name, family_name, display_name, scim)
         SELECT $1, 'provisioned', 'scim', 'student' || g || '@district.example', 'sis-' || g, 'student' || g || '@district.example',
                'Given' || g, 'Family' || g, 'Student ' || g, '{"name":{"formatted":"Student"}}'::jsonb
         FROM generate_series($2::int, $3::int) g`,
        { bind: [big.id, from, to] },
      );
      await seq.query(
        `INSERT INTO person_emails (tenant_id, person_id, value, type, is_primary, position)
         SELECT tenant_id, id, primary_email, 'work', true, 0 FROM people
         WHERE tenant_id = $1 AND user_name LIKE 'student%' AND NOT EXISTS (SELECT 1 FROM person_emails e WHERE e.person_id = people.id)`,
        { bind: [big.id] },
      );
      await seq.query('ANALYZE people; ANALYZE person_emails;');
    };
    const eqUrl = (n: number) =>
      `${base}/Users?filter=${encodeURIComponent(`userName eq "Student${n}@District.example"`)}`;
    await bulk(1, 1000);
    const at1k = await timeGet(eqUrl(500), bigToken);
    await bulk(1001, 100_000);
    const at100k = await timeGet(eqUrl(50_000), bigToken);
    console.log(
      `\nrosterbridge userName eq p50, one client: 1,000 people ${fmt(at1k, 2)} ms | 100,000 people ${fmt(at100k, 2)} ms | ratio ${fmt(at100k / at1k, 2)}`,
    );
    console.log(
      `  ${verdict('p50 ≤ 3 ms', at1k <= 3 && at100k <= 3)}; ${verdict('ratio ≤ 1.5', at100k / at1k <= 1.5)}`,
    );
    const [{ id: at50k }] = await seq.query<{ id: string }>(
      `SELECT id::text FROM people WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id OFFSET 49999 LIMIT 1`,
      { bind: [big.id], type: QueryTypes.SELECT },
    );
    const page1 = await timeGet(`${base}/Users?count=100&cursor=`, bigToken, 50, 10);
    const deep = await timeGet(`${base}/Users?count=100&cursor=${encodeCursor(at50k)}`, bigToken, 50, 10);
    // startIndex paging reads and skips 50,000 rows: on a busy machine it can hit the statement timeout.
    const deepIndex = await timeGet(`${base}/Users?count=100&startIndex=50001`, bigToken, 5, 1).catch((err: Error) => {
      console.log(`  startIndex=50001 failed: ${err.message.slice(0, 200)}`);
      return Number.NaN;
    });
    console.log(
      `rosterbridge cursor page of 100: page 1 ${fmt(page1, 2)} ms | offset 50,000 ${fmt(deep, 2)} ms | ratio ${fmt(deep / page1, 2)} (${verdict('ratio ≤ 2', deep / page1 <= 2)})`,
    );
    console.log(`  for comparison, startIndex=50001: ${fmt(deepIndex, 2)} ms (${fmt(deepIndex / page1, 2)}× page 1)`);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await db?.close();
    await baPool.end();
    await oursDb.drop();
    await baDb.drop();
  }
  if (missed) {
    console.log(`\n${missed} goal(s) not met`);
    process.exitCode = 1;
  }
}

await main();
