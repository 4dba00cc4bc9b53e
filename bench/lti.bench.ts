/**
 * LTI benchmark on PostgreSQL (DATABASE_URL; `npm run bench -- lti`). Each run creates its own
 * databases (ours, ltijs-sequelize's) and drops them.
 *
 *  1. Login + launch round trips per second: browser → tool login → platform auth endpoint →
 *     form post of the signed id_token to the tool's launch URL, until the tool's accepted answer
 *     (ours: 303 into the app with a ticket; ltijs: 302 to its app route with an `ltik`). Three
 *     tools in one run, rounds alternating: ours, ltijs 5.9.9 on PostgreSQL (ltijs-sequelize
 *     2.4.4, its durable setup) and ltijs in memory (a Map-backed plugin). Each tool runs in its own
 *     process; the emulated platform and the closed-loop clients run in this one. Only accepted
 *     launches count, and each tool's stored rows are checked against that count. Per round trip:
 *     the tool process's CPU, its PostgreSQL backends' CPU, and statements sent. Goals (issue 13):
 *     ≥ 2× ltijs(pg), ≥ 1.0× ltijs(memory).
 *  2. First launch of someone with 10,000 pending privilege grants vs someone with 1: the launch
 *     POST alone, median of interleaved samples, each a fresh SCIM-provisioned person. Target ≤ 1.2.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { QueryTypes } from 'sequelize';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { createStore, inTransaction, type Store } from '../src/db/store.js';
import { insertPerson } from '../src/domain/people.js';
import { addPlatform } from '../src/domain/platforms.js';
import { createTenant } from '../src/domain/tenants.js';
import { createDatabaseOnServer } from '../test/support/db.js';
import { freePort } from '../test/support/processes.js';
import { Browser, LTI_CLAIM, startPlatformEmulator, type PlatformEmulator } from '../test/support/platform-emulator.js';
import {
  type ChildServer,
  databaseName,
  emptyCost,
  fmt,
  machineLine,
  type MeasuredSubject,
  measured,
  median,
  perOp,
  startChildServer,
  table,
} from './support.js';

const SECONDS = Number(process.env.LTI_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.LTI_BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.LTI_BENCH_CONCURRENCY ?? 4);
const SAMPLES = Number(process.env.LTI_BENCH_SAMPLES ?? 20);
const CALIBRATION = 10;
const DEPLOYMENT = 'bench-deploy';

function payload(target: string, deploymentId: string, sub: string, sourcedId?: string, contextId = 'bench-ctx') {
  return {
    sub,
    [`${LTI_CLAIM}message_type`]: 'LtiResourceLinkRequest',
    [`${LTI_CLAIM}version`]: '1.3.0',
    [`${LTI_CLAIM}deployment_id`]: deploymentId,
    [`${LTI_CLAIM}target_link_uri`]: target,
    [`${LTI_CLAIM}resource_link`]: { id: 'rl-bench' },
    [`${LTI_CLAIM}roles`]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'],
    [`${LTI_CLAIM}context`]: { id: contextId, title: 'Bench course' },
    ...(sourcedId
      ? { [`${LTI_CLAIM}lis`]: { person_sourcedid: sourcedId, course_offering_sourcedid: 'SIS-BENCH' } }
      : {}),
  };
}

/** A tool under test; `stored()` counts rows proving a launch was validated and kept. */
interface Tool extends MeasuredSubject {
  url: string;
  loginPath: string;
  target: string;
  /** The tool's accepted answer to the launch POST. */
  accepted(status: number, location: string): boolean;
}

/**
 * One login + launch as a browser does it. `between` runs after the login's answer (the
 * statement calibration reads the server's counters there).
 */
async function roundTrip(
  emu: PlatformEmulator,
  tool: Tool,
  between?: () => Promise<void>,
): Promise<{ ok: boolean; detail?: string }> {
  const browser = new Browser();
  const hint = randomUUID();
  emu.prepare(hint, { payload: payload(tool.target, DEPLOYMENT, 'bench-user') });
  const params = new URLSearchParams({
    iss: emu.issuer,
    login_hint: hint,
    target_link_uri: tool.target,
    client_id: emu.clientId,
    lti_deployment_id: DEPLOYMENT,
    lti_message_hint: 'msg-hint',
  });
  const login = await browser.fetch(`${tool.url}${tool.loginPath}?${params}`);
  const loginBody = await login.text();
  const authUrl = login.status === 302 ? login.headers.get('location') : null;
  if (!authUrl) return { ok: false, detail: `login ${login.status}: ${loginBody.slice(0, 200)}` };
  await between?.();
  const auth = await browser.fetch(authUrl);
  const page = await auth.text();
  if (auth.status !== 200) return { ok: false, detail: `auth ${auth.status}: ${page.slice(0, 200)}` };
  const launch = await browser.submitForm(page);
  const body = await launch.text();
  const location = launch.headers.get('location') ?? '';
  if (tool.accepted(launch.status, location)) return { ok: true };
  return { ok: false, detail: `launch ${launch.status} ${location}: ${body.slice(0, 200)}` };
}

/** Closed-loop clients for SECONDS; counts accepted launches. */
async function round(emu: PlatformEmulator, tool: Tool, seconds = SECONDS) {
  let ok = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const r = await roundTrip(emu, tool).catch((err: Error) => ({ ok: false, detail: err.message }));
        if (r.ok) ok++;
        else {
          failed++;
          firstFailure ??= r.detail;
        }
      }
    }),
  );
  return { ok, failed, firstFailure, seconds: (performance.now() - started) / 1000 };
}

async function seedGrants(
  store: Store,
  tenantId: string,
  personId: string,
  n: number,
  launchCourseId: string,
  courseIds: string[],
) {
  if (n === 1) {
    await store.sequelize.query(
      `INSERT INTO privilege_grants (tenant_id, course_id, person_id, privilege, effect, granted_by) VALUES ($1, $2, $3, 'grades.edit', 'allow', 'bench')`,
      { bind: [tenantId, launchCourseId, personId] },
    );
    return;
  }
  await store.sequelize.query(
    `INSERT INTO privilege_grants (tenant_id, course_id, person_id, privilege, effect, granted_by)
     SELECT $1, c, $2, 'grades.edit', 'allow', 'bench' FROM unnest($3::uuid[]) AS c`,
    { bind: [tenantId, personId, courseIds.slice(0, n)] },
  );
}

async function main() {
  console.log(machineLine());
  const oursDb = await createDatabaseOnServer();
  const ltijsDb = await createDatabaseOnServer();
  const port = await freePort();
  const toolUrl = `http://127.0.0.1:${port}`;
  const emu = await startPlatformEmulator();
  const platform = {
    issuer: emu.issuer,
    clientId: emu.clientId,
    jwksUrl: emu.jwksUrl,
    authUrl: emu.authUrl,
    tokenUrl: emu.tokenUrl,
  };
  const servers: ChildServer[] = [];
  const ltijsPool = new pg.Pool({ connectionString: ltijsDb.url, max: 1 });
  let db: Awaited<ReturnType<typeof connectDatabase>> | undefined;
  try {
    const ours = await startChildServer('ours', { databaseUrl: oursDb.url, port });
    servers.push(ours);
    const ltijsPg = await startChildServer('ltijs', { storage: 'pg', databaseUrl: ltijsDb.url, ...platform });
    servers.push(ltijsPg);
    const ltijsMem = await startChildServer('ltijs', { storage: 'memory', ...platform });
    servers.push(ltijsMem);
    db = await connectDatabase(loadConfig({ DATABASE_URL: oursDb.url, LOG_LEVEL: 'silent' }), { poolMax: 2 });
    const store = createStore(db.sequelize);
    const ctx = { actor: 'bench' };
    const tenant = await createTenant(store, ctx, { slug: 'lti-bench', name: 'LTI bench' });
    await addPlatform(store, ctx, tenant.id, {
      issuer: emu.issuer,
      clientId: emu.clientId,
      deploymentId: DEPLOYMENT,
      authLoginUrl: emu.authUrl,
      authTokenUrl: emu.tokenUrl,
      jwksUrl: emu.jwksUrl,
      jitCreate: true,
    });
    const count = async (sql: string) =>
      Number((await store.sequelize.query<{ n: number }>(sql, { type: QueryTypes.SELECT }))[0].n);
    const memoryInserts = async (server: ChildServer, collection: string) =>
      (await server.stats()).extra[collection] ?? 0;
    const tool = (t: Omit<Tool, 'cost' | 'seconds' | 'rounds' | 'failed' | 'verified'>): Tool => ({
      ...t,
      cost: emptyCost(),
      seconds: 0,
      rounds: [],
      failed: 0,
      verified: 0,
    });
    const tools: Tool[] = [
      tool({
        name: 'rosterbridge',
        server: ours,
        url: toolUrl,
        loginPath: '/lti/login',
        target: `${toolUrl}/lti/launch`,
        accepted: (status, location) => status === 303 && location.includes('#lti_ticket='),
        database: databaseName(oursDb.url),
        stored: () => count('SELECT count(*)::int AS n FROM lti_nonces'),
        storedWhat: 'lti_nonces rows',
      }),
      tool({
        name: 'ltijs (PostgreSQL)',
        server: ltijsPg,
        url: ltijsPg.info.url,
        loginPath: '/login',
        target: `${ltijsPg.info.url}/launch`,
        accepted: (status, location) => status === 302 && location.includes('ltik='),
        database: databaseName(ltijsDb.url),
        // Replace deletes and re-inserts the id token row: its sequence grows by one per launch.
        stored: async () =>
          Number((await ltijsPool.query('SELECT last_value FROM idtokens_id_seq')).rows[0].last_value),
        storedWhat: 'idtokens_id_seq',
      }),
      tool({
        name: 'ltijs (memory)',
        server: ltijsMem,
        url: ltijsMem.info.url,
        loginPath: '/login',
        target: `${ltijsMem.info.url}/launch`,
        accepted: (status, location) => status === 302 && location.includes('ltik='),
        stored: () => memoryInserts(ltijsMem, 'idtoken'),
        storedWhat: 'id tokens stored',
      }),
    ];

    // ---- 1. round trips
    console.log(
      `\nLTI login + launch round trips: ${CONCURRENCY} concurrent clients, ${ROUNDS} rounds × ${SECONDS} s per tool, rounds alternating; each tool in its own process, one emulated platform`,
    );
    for (const t of tools) {
      const w = await round(emu, t, 1); // warm-up: JIT, JWKS caches, connection pools
      if (w.ok === 0) throw new Error(`${t.name}: no launch accepted in warm-up; first failure: ${w.firstFailure}`);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of tools) {
        const before = await t.stored();
        const res = await measured(t.cost, t.server, t.database, () => round(emu, t));
        const after = await t.stored();
        t.verified += after - before;
        t.seconds += res.seconds;
        t.rounds.push(res.ok / res.seconds);
        t.failed += res.failed;
        t.firstFailure ??= res.firstFailure;
      }
    }

    // Statements per login and per launch: sequential round trips, counters read between phases.
    const statements = new Map<string, { login: number; launch: number }>();
    for (const t of tools.filter((x) => x.database)) {
      let login = 0;
      let launch = 0;
      for (let i = 0; i < CALIBRATION; i++) {
        const q0 = (await t.server.stats()).queries;
        let q1 = q0;
        const r = await roundTrip(emu, t, async () => {
          q1 = (await t.server.stats()).queries;
        });
        if (!r.ok) throw new Error(`${t.name}: calibration launch failed: ${r.detail}`);
        const q2 = (await t.server.stats()).queries;
        login += q1 - q0;
        launch += q2 - q1;
      }
      statements.set(t.name, { login: login / CALIBRATION, launch: launch / CALIBRATION });
    }

    const rate = (t: Tool) => t.cost.ops / t.seconds;
    console.log(
      table([
        [
          'tool',
          'round trips/s',
          'rounds',
          'failed',
          'stored = accepted',
          'tool CPU ms/RT',
          'PG CPU ms/RT',
          'statements/RT',
          'login + launch',
        ],
        ...tools.map((t) => {
          const s = statements.get(t.name);
          return [
            t.name,
            fmt(rate(t)),
            t.rounds.map((x) => fmt(x, 0)).join(' / '),
            String(t.failed),
            `${t.verified === t.cost.ops ? 'yes' : 'NO'} (${t.verified} ${t.storedWhat})`,
            fmt(perOp(t.cost, 'toolCpuMs'), 2),
            t.database ? fmt(perOp(t.cost, 'pgCpuMs'), 2) : '—',
            t.database ? fmt(perOp(t.cost, 'queries'), 1) : '—',
            s ? `${fmt(s.login, 1)} + ${fmt(s.launch, 1)}` : '—',
          ];
        }),
      ]),
    );
    for (const t of tools)
      if (t.firstFailure) console.log(`  (${t.name}: ${t.failed} failed, first: ${t.firstFailure})`);
    const [o, lp, lm] = tools.map(rate);
    const vsPg = o / lp;
    const vsMem = o / lm;
    console.log(
      `  ratio rosterbridge/ltijs(PostgreSQL) ${fmt(vsPg, 2)}× (goal ≥ 2×: ${vsPg >= 2 ? 'MET' : 'NOT MET'}); rosterbridge/ltijs(memory) ${fmt(vsMem, 2)}× (goal ≥ 1.0×: ${vsMem >= 1 ? 'MET' : 'NOT MET'})`,
    );
    const [oc, pc] = [tools[0].cost, tools[1].cost];
    console.log(
      `  CPU per round trip, tool + PostgreSQL: rosterbridge ${fmt(perOp(oc, 'toolCpuMs') + perOp(oc, 'pgCpuMs'), 2)} ms, ltijs(PostgreSQL) ${fmt(perOp(pc, 'toolCpuMs') + perOp(pc, 'pgCpuMs'), 2)} ms, ltijs(memory) ${fmt(perOp(tools[2].cost, 'toolCpuMs'), 2)} ms`,
    );
    console.log(
      `  notes: statements = pg Client#query calls by the tool process (BEGIN/COMMIT included); "login + launch" from ${CALIBRATION} sequential round trips. PG CPU = the tool's own database's backends (from /proc), without the shared WAL writer. The emulated platform (an RS256 signature per launch) and the clients run in the bench process and share the 2 cores with the tools and PostgreSQL.`,
    );

    // ---- 2. first launch with 1 vs 10,000 pending grants
    const hasGrants =
      (
        await store.sequelize.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'privilege_grants'`, {
          type: QueryTypes.SELECT,
        })
      ).length > 0;
    if (!hasGrants) {
      console.log('first launch 1 vs 10,000 grants: PENDING (no privilege_grants table yet)');
      return;
    }
    await store.sequelize.query(
      `INSERT INTO privilege_catalogue (tenant_id, key) VALUES ($1, 'grades.edit') ON CONFLICT DO NOTHING`,
      { bind: [tenant.id] },
    );
    const [launchCourse] = await store.sequelize.query<{ id: string }>(
      `INSERT INTO courses (tenant_id, title, external_key) VALUES ($1, 'Bench', 'SIS-BENCH') RETURNING id`,
      { bind: [tenant.id], type: QueryTypes.SELECT },
    );
    const courses = await store.sequelize.query<{ id: string }>(
      `INSERT INTO courses (tenant_id, title) SELECT $1, 'c' || g FROM generate_series(1, 10000) g RETURNING id`,
      { bind: [tenant.id], type: QueryTypes.SELECT },
    );
    const courseIds = courses.map((c) => c.id);
    const timeFirstLaunch = async (grants: number) => {
      const key = `P-${randomUUID()}`;
      const person = await inTransaction(store, (t) =>
        insertPerson(store, t, ctx, { tenantId: tenant.id, status: 'provisioned', source: 'scim', externalId: key }),
      );
      await seedGrants(store, tenant.id, person.id, grants, launchCourse.id, courseIds);
      await store.sequelize.query('ANALYZE privilege_grants');
      const browser = new Browser();
      const hint = randomUUID();
      emu.prepare(hint, { payload: payload(`${toolUrl}/lti/launch`, 'bench-deploy', `sub-${key}`, key) });
      const login = await browser.fetch(
        `${toolUrl}/lti/login?${new URLSearchParams({ iss: emu.issuer, login_hint: hint, target_link_uri: `${toolUrl}/lti/launch`, client_id: emu.clientId })}`,
      );
      const page = await (await browser.fetch(login.headers.get('location')!)).text();
      const t0 = performance.now();
      const res = await browser.submitForm(page);
      const ms = performance.now() - t0;
      if (res.status !== 303) throw new Error(`first launch failed: ${res.status} ${await res.text()}`);
      return ms;
    };
    for (let i = 0; i < 3; i++) {
      await timeFirstLaunch(1);
      await timeFirstLaunch(10_000);
    }
    const one: number[] = [];
    const many: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      one.push(await timeFirstLaunch(1));
      many.push(await timeFirstLaunch(10_000));
    }
    const ratio = median(many) / median(one);
    console.log(
      `first launch (launch POST only, median of ${SAMPLES} interleaved samples, each a new provisioned person):`,
    );
    console.log(`  with 1 pending grant:       ${fmt(median(one), 2)} ms`);
    console.log(`  with 10,000 pending grants: ${fmt(median(many), 2)} ms`);
    console.log(`  ratio: ${fmt(ratio, 3)} (target ≤ 1.2) ${ratio <= 1.2 ? 'PASS' : 'FAIL'}`);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await emu.close();
    await db?.close();
    await ltijsPool.end();
    await oursDb.drop();
    await ltijsDb.drop();
  }
}

await main();
