/**
 * Authorization under writes, on PostgreSQL (DATABASE_URL; `npm run bench -- authorize`). Its own
 * database, created and dropped.
 *
 * `POST /api/v1/authorize` over HTTP (16 keep-alive connections, closed loop, from a load
 * generator in its own process: bench/http-load.ts) against our server in its own process, in
 * rounds alternating between quiet and under writes. Under writes, SCIM creates are sent open loop
 * (paced, not waiting for each other) at 50/s into another tenant and 5/s into the tenant being
 * authorized — every write there drops that tenant's decision cache (docs/decisions/0003), so
 * this measures how the cache holds up while the directory changes. Only 200s count as answers;
 * each write must answer 201 and be stored (people rows checked). Per authorize: the server's CPU
 * and its PostgreSQL backends' CPU (under writes these include the writes' cost).
 * Goal (issue 13): ≥ 5,000/s with p99 ≤ 5 ms under both write loads. The closed-loop rounds
 * measure how much the server can answer at all (16 requests always in flight, so their latency is
 * mostly queueing); the open-loop rounds offer exactly 5,000/s and measure each answer from the
 * moment its request was due (bench/http-load.ts `rate`), which is what "holds 5,000/s with p99
 * ≤ 5 ms" asks.
 */
import { QueryTypes } from 'sequelize';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { createStore } from '../src/db/store.js';
import { createTenant } from '../src/domain/tenants.js';
import { createToken } from '../src/domain/tokens.js';
import { createDatabaseOnServer } from '../test/support/db.js';
import { type HttpLoadResult, runHttpLoad } from './http-load.js';
import {
  adminApi,
  type ChildServer,
  databaseName,
  fmt,
  machineLine,
  median,
  pgCpu,
  pgCpuDelta,
  authorizeBodies,
  seedBenchCourse,
  startChildServer,
  table,
} from './support.js';

const SECONDS = Number(process.env.AUTHZ_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.AUTHZ_BENCH_ROUNDS ?? 2);
const OPEN_ONLY = process.env.AUTHZ_BENCH_OPEN_ONLY === '1';
const CONNECTIONS = 16;
const PEOPLE = 1000;
const OTHER_TENANT_WRITES = 50;
const SAME_TENANT_WRITES = 5;
const GOAL_RATE = 5000;
const GOAL_P99_MS = 5;

interface Writes {
  ok: number;
  failed: number;
  firstFailure?: string;
  seconds: number;
  latencies: number[];
}

/** SCIM creates at `perSecond`, open loop, until `stop()`; resolves when the last has answered. */
function pacedWrites(base: string, token: string, perSecond: number, prefix: string) {
  let stopped = false;
  const result: Writes = { ok: 0, failed: 0, seconds: 0, latencies: [] };
  const done = (async () => {
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; !stopped; i++) {
      const due = started + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (stopped) break;
      const userName = `${prefix}${i}@bench.example`;
      const t0 = performance.now();
      inFlight.push(
        fetch(`${base}/Users`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName,
            name: { givenName: 'Bench', familyName: 'Writer' },
            emails: [{ value: userName, type: 'work', primary: true }],
            active: true,
          }),
        })
          .then(async (res) => {
            const text = await res.text();
            result.latencies.push(performance.now() - t0);
            if (res.status === 201) result.ok++;
            else {
              result.failed++;
              result.firstFailure ??= `${res.status} ${text.slice(0, 300)}`;
            }
          })
          .catch((err: Error) => {
            result.failed++;
            result.firstFailure ??= err.message;
          }),
      );
    }
    result.seconds = (performance.now() - started) / 1000;
    await Promise.all(inFlight);
    return result;
  })();
  return {
    stop: () => {
      stopped = true;
      return done;
    },
  };
}

async function main() {
  console.log(machineLine());
  const dbServer = await createDatabaseOnServer();
  const database = databaseName(dbServer.url);
  let server: ChildServer | undefined;
  let db: Awaited<ReturnType<typeof connectDatabase>> | undefined;
  try {
    server = await startChildServer('ours', {
      databaseUrl: dbServer.url,
      env: { SCIM_RATE_LIMIT_PER_MINUTE: '100000000', BODY_LIMIT_BYTES: String(4 * 1024 * 1024) },
    });
    const url = server.info.url;
    db = await connectDatabase(loadConfig({ DATABASE_URL: dbServer.url, LOG_LEVEL: 'silent' }), { poolMax: 2 });
    const store = createStore(db.sequelize);
    const ctx = { actor: 'bench' };

    // The tenant being authorized: 1,000 people in a course (10% instructors), a third with
    // person grants; and a second tenant that only receives SCIM writes.
    const tenant = await createTenant(store, ctx, { slug: 'bench-school', name: 'Bench School' });
    const { token } = await createToken(store, ctx, { tenantId: tenant.id, kind: 'admin' });
    const { token: scimToken } = await createToken(store, ctx, { tenantId: tenant.id, kind: 'scim' });
    const other = await createTenant(store, ctx, { slug: 'bench-other', name: 'Bench Other' });
    const { token: otherScimToken } = await createToken(store, ctx, { tenantId: other.id, kind: 'scim' });
    const { course, ids } = await seedBenchCourse(store, adminApi(url, token), tenant.id, PEOPLE);
    const { bodies, privileges } = authorizeBodies(course, ids);
    const people = async (tenantId: string) =>
      Number(
        (
          await store.sequelize.query<{ n: number }>('SELECT count(*)::int AS n FROM people WHERE tenant_id = $1', {
            bind: [tenantId],
            type: QueryTypes.SELECT,
          })
        )[0].n,
      );

    console.log(
      `authorize over HTTP: ${PEOPLE} people, 1 course, ${privileges.length} privileges; ${CONNECTIONS} keep-alive connections (closed loop, own process), ${SECONDS} s per round; ${ROUNDS} × (quiet, SCIM creates at ${OTHER_TENANT_WRITES}/s into another tenant, at ${SAME_TENANT_WRITES}/s into this one, both), the writes open loop; every check asked once before each series`,
    );
    interface Round {
      name: string;
      load: HttpLoadResult;
      serverCpuMs: number;
      pgCpuMs: number;
      queries: number;
      /** the server's authorization cache: hit share, and invalidations naming this tenant, the other, all */
      cache: {
        hitShare: number;
        thisTenant: number;
        thisPerson: number;
        otherTenant: number;
        otherPerson: number;
        all: number;
      };
      writes?: { other?: Writes; same?: Writes; stored: boolean };
      /** the server's event loop delay over the round, and how often the kernel preempted it */
      server: { loopP99: number; loopMax: number; preemptedPerS: number };
    }
    const rounds: Round[] = [];
    const measure = async (name: string, rates: { other: number; same: number }, r: number, offered?: number) => {
      const s0 = await server!.stats();
      const p0 = pgCpu([database]);
      const rows0 = [await people(other.id), await people(tenant.id)];
      const otherWriter = rates.other
        ? pacedWrites(`${url}/scim/v2`, otherScimToken, rates.other, `w${r}-${name.length}-other-`)
        : undefined;
      const sameWriter = rates.same
        ? pacedWrites(`${url}/scim/v2`, scimToken, rates.same, `w${r}-${name.length}-same-`)
        : undefined;
      const load = await runHttpLoad({
        url,
        token,
        bodies,
        seconds: SECONDS,
        connections: CONNECTIONS,
        warmup: 500,
        rate: offered,
      });
      const [otherW, sameW] = await Promise.all([otherWriter?.stop(), sameWriter?.stop()]);
      const p1 = pgCpu([database]);
      const s1 = await server!.stats();
      const round: Round = {
        name,
        load,
        serverCpuMs: s1.cpuMs - s0.cpuMs,
        queries: s1.queries - s0.queries,
        cache: (() => {
          const d = (k: string) => (s1.extra[k] ?? 0) - (s0.extra[k] ?? 0);
          const hits = d('authzHits');
          return {
            hitShare: hits / (hits + d('authzMisses')),
            thisTenant: d(`invalidate:${tenant.id}`),
            thisPerson: d(`invalidate-person:${tenant.id}`),
            otherTenant: d(`invalidate:${other.id}`),
            otherPerson: d(`invalidate-person:${other.id}`),
            all: d('invalidate:*'),
          };
        })(),
        pgCpuMs: pgCpuDelta(p0, p1).byDatabase[database] ?? 0,
        server: {
          loopP99: s1.extra.loopDelayP99Ms ?? Number.NaN,
          loopMax: s1.extra.loopDelayMaxMs ?? Number.NaN,
          preemptedPerS: (s1.extra.preempted ?? Number.NaN) / (SECONDS + 0.5),
        },
      };
      if (otherW || sameW) {
        const stored =
          (await people(other.id)) - rows0[0] === (otherW?.ok ?? 0) &&
          (await people(tenant.id)) - rows0[1] === (sameW?.ok ?? 0);
        round.writes = { other: otherW, same: sameW, stored };
      }
      rounds.push(round);
    };
    // Every one of the 5,000 distinct checks asked once: the cache is full, as in a steady state.
    const warm = async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          while (next < bodies.length) {
            const res = await fetch(`${url}/api/v1/authorize`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: bodies[next++],
            });
            if (res.status !== 200) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
            await res.arrayBuffer();
          }
        }),
      );
    };
    await warm();
    await runHttpLoad({ url, token, bodies, seconds: 1, connections: CONNECTIONS, warmup: 0 }); // JIT
    const BOTH = `writes ${OTHER_TENANT_WRITES}/s other + ${SAME_TENANT_WRITES}/s same`;
    const OPEN = `offered ${GOAL_RATE.toLocaleString('en')}/s,`;
    // AUTHZ_BENCH_OPEN_ONLY=1 skips the closed-loop rounds (what the open-loop ones measure without them before).
    for (let r = 0; r < (OPEN_ONLY ? 0 : ROUNDS); r++) {
      if (r > 0) await warm();
      const n = ROUNDS > 1 ? ` #${r + 1}` : '';
      await measure(`quiet${n}`, { other: 0, same: 0 }, r);
      await measure(`writes ${OTHER_TENANT_WRITES}/s other tenant${n}`, { other: OTHER_TENANT_WRITES, same: 0 }, r);
      await measure(`writes ${SAME_TENANT_WRITES}/s same tenant${n}`, { other: 0, same: SAME_TENANT_WRITES }, r);
      await measure(`${BOTH}${n}`, { other: OTHER_TENANT_WRITES, same: SAME_TENANT_WRITES }, r);
    }
    // The goal is a rate held with a latency bound: offer exactly that rate (open loop) and see
    // the tail. The closed-loop rounds above say how much the server can do at all.
    for (let r = 0; r < ROUNDS; r++) {
      const n = ROUNDS > 1 ? ` #${r + 1}` : '';
      await measure(`${OPEN} quiet${n}`, { other: 0, same: 0 }, ROUNDS + r, GOAL_RATE);
      await measure(
        `${OPEN} ${BOTH}${n}`,
        { other: OTHER_TENANT_WRITES, same: SAME_TENANT_WRITES },
        ROUNDS + r,
        GOAL_RATE,
      );
    }

    const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? Number.NaN;
    const rateOf = (w?: Writes) => (w ? fmt(w.ok / w.seconds, 1) : '0');
    console.log(
      table([
        [
          'round',
          'authorize/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'non-200',
          'writes/s other + same',
          'write p99 ms',
          'writes failed',
          'stored = 201s',
          'server CPU µs/req',
          'PG CPU µs/req',
          'statements/req',
          'cache hits',
          'drops: this tenant (person) / other (person) / all',
          'server loop delay p99 / max ms',
          'server preempted /s',
          'generator loop delay p99 ms',
          'generator preempted /s',
        ],
        ...rounds.map((r) => {
          const all = r.load.requests + r.load.warmupRequests;
          const w = r.writes;
          return [
            r.name,
            fmt(r.load.rps, 0),
            fmt(r.load.p50, 2),
            fmt(r.load.p99, 2),
            fmt(r.load.max, 1),
            String(r.load.errors),
            w ? `${rateOf(w.other)} + ${rateOf(w.same)}` : '—',
            w ? fmt(p99([...(w.other?.latencies ?? []), ...(w.same?.latencies ?? [])]), 1) : '—',
            w ? String((w.other?.failed ?? 0) + (w.same?.failed ?? 0)) : '—',
            w ? (w.stored ? 'yes' : 'NO') : '—',
            fmt((r.serverCpuMs * 1000) / all, 0),
            fmt((r.pgCpuMs * 1000) / all, 0),
            fmt(r.queries / all, 2),
            `${fmt(r.cache.hitShare * 100, 1)}%`,
            `${r.cache.thisTenant} (${r.cache.thisPerson}) / ${r.cache.otherTenant} (${r.cache.otherPerson}) / ${r.cache.all}`,
            `${fmt(r.server.loopP99, 1)} / ${fmt(r.server.loopMax, 1)}`,
            fmt(r.server.preemptedPerS, 0),
            fmt(r.load.generatorLoopP99, 1),
            fmt(r.load.generatorPreempted / SECONDS, 0),
          ];
        }),
      ]),
    );
    for (const r of rounds) {
      const f = r.writes?.other?.firstFailure ?? r.writes?.same?.firstFailure;
      if (f) console.log(`  (${r.name}: first failed write: ${f})`);
    }
    const clean = (under: Round[]) =>
      under.every(
        (r) => r.load.errors === 0 && r.writes!.stored && !r.writes!.other?.failed && !r.writes!.same?.failed,
      );
    const closed = rounds.filter((r) => r.name.startsWith(BOTH));
    if (closed.length)
      console.log(
        `  closed loop under both write loads (median of ${closed.length}): ${fmt(median(closed.map((r) => r.load.rps)), 0)} authorize/s at most, p99 ${fmt(median(closed.map((r) => r.load.p99)), 2)} ms with ${CONNECTIONS} requests always in flight`,
      );
    const open = rounds.filter((r) => r.name.startsWith(`${OPEN} ${BOTH}`));
    const rps = median(open.map((r) => r.load.rps));
    const tail = median(open.map((r) => r.load.p99));
    // The achieved rate falls short of the offered one only by the requests due in the last moments.
    const held = rps >= GOAL_RATE * 0.98;
    console.log(
      `  ${GOAL_RATE.toLocaleString('en')}/s offered under both write loads (median of ${open.length}): ${fmt(rps, 0)} authorize/s answered, p99 ${fmt(tail, 2)} ms from each request's due time — goal ≥ ${GOAL_RATE.toLocaleString('en')}/s and p99 ≤ ${GOAL_P99_MS} ms: ${held && tail <= GOAL_P99_MS && clean(open) ? 'MET' : 'NOT MET'}`,
    );
    console.log(
      "  notes: costs per request count the round's warm-up too, and under writes include the writes; statements = pg Client#query calls by the server; cache hits = hits / lookups in its authorization cache (a request makes several), drops = how often it dropped this tenant's entries, the other's, everyone's (in brackets: drops of one person's decisions only); PG CPU = backends of this database (from /proc); server loop delay = how late the server's event loop ran (its own work holding it), preempted = how often the kernel gave its CPU to another process (involuntary context switches). The writers run in the bench process; the load generator, the server and PostgreSQL each in their own.",
    );
  } finally {
    await server?.stop();
    await db?.close();
    await dbServer.drop();
  }
}

await main();
