/**
 * LTI benchmark on PostgreSQL (DATABASE_URL; `npm run bench -- lti`). Each run creates its own
 * database and drops it.
 *
 *  1. Login + launch round trips per second: browser → /lti/login → platform auth endpoint →
 *     form post to /lti/launch, until the tool's redirect into the app. Against our tool and, in
 *     the same run with the same emulated platform and client, the ltijs Provider (its Express
 *     routes and validation, with an in-memory stand-in for its MongoDB layer). Each tool runs in
 *     its own child process (as it would in production); the emulated platform and the closed-loop
 *     clients run in this process. Runs alternate (ours, ltijs, ours, ltijs). Target: ≥ 2× ltijs.
 *  2. First launch of someone with 10,000 pending privilege grants vs someone with 1: the launch
 *     POST alone, median of interleaved samples, each a fresh SCIM-provisioned person. Target ≤ 1.2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { QueryTypes } from 'sequelize';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { createStore, inTransaction, type Store } from '../src/db/store.js';
import { insertPerson } from '../src/domain/people.js';
import { addPlatform } from '../src/domain/platforms.js';
import { createTenant } from '../src/domain/tenants.js';
import { startServer } from '../src/server.js';
import { createDatabaseOnServer } from '../test/support/db.js';
import {
  Browser,
  LTI_CLAIM,
  runLaunch,
  startPlatformEmulator,
  type PlatformEmulator,
} from '../test/support/platform-emulator.js';
import { startLtijsProvider } from '../test/lti/ltijs-baseline.js';

const SECONDS = Number(process.env.LTI_BENCH_SECONDS ?? 6);
const CONCURRENCY = Number(process.env.LTI_BENCH_CONCURRENCY ?? 8);
const SELF = fileURLToPath(import.meta.url);
const SAMPLES = Number(process.env.LTI_BENCH_SAMPLES ?? 25);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

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

/** Closed-loop clients for `seconds`; returns completed round trips per second (and failures). */
async function roundTrips(
  emu: PlatformEmulator,
  toolUrl: string,
  loginPath: string,
  target: string,
  deploymentId: string,
  sub: string,
  seconds = SECONDS,
) {
  let ok = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const until = Date.now() + seconds * 1000;
  const client = async () => {
    while (Date.now() < until) {
      const r = await runLaunch(
        emu,
        { payload: payload(target, deploymentId, sub) },
        { toolUrl, loginPath, targetLinkUri: target, browser: new Browser(), deploymentId },
      );
      const s = r.launch?.status ?? 0;
      if (s === 302 || s === 303) ok++;
      else {
        failed++;
        firstFailure ??= `${r.login.status}/${r.auth?.status}/${s}: ${(await (r.launch ?? r.auth ?? r.login).text()).slice(0, 300)}`;
      }
      await r.launch?.arrayBuffer().catch(() => undefined);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const secs = (performance.now() - started) / 1000;
  return { perSecond: ok / secs, ok, failed, firstFailure };
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

/* ---------------------------------------------------------------- child processes (the tools) */

async function child(mode: string, arg: string): Promise<void> {
  if (mode === '--serve-ours') {
    const { url, databaseUrl } = JSON.parse(arg) as { url: string; databaseUrl: string };
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      PORT: new URL(url).port,
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      LOG_LEVEL: 'silent',
    });
    await startServer(config, pino({ level: 'silent' }), { persist: false });
  } else {
    const platform = JSON.parse(arg) as Parameters<typeof startLtijsProvider>[0];
    const { url } = await startLtijsProvider(platform);
    process.stdout.write(`URL ${url}\n`);
  }
  process.on('SIGTERM', () => process.exit(0)); // exit normally, so --cpu-prof (LTI_BENCH_CPU_PROF) is written
  process.stdout.write('READY\n');
}

function spawnTool(mode: string, arg: unknown): Promise<{ proc: ChildProcess; url: string }> {
  const prof = process.env.LTI_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LTI_BENCH_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', SELF, mode, JSON.stringify(arg)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('READY')) resolve({ proc, url: /URL (\S+)/.exec(out)?.[1] ?? (arg as { url: string }).url });
    });
    proc.once('exit', (code) => reject(new Error(`${mode} exited with ${code}`)));
  });
}

/** CPU time (user + system) a child process has used so far, in ms (Linux /proc; CLK_TCK 100). */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number, d = 1) => x.toFixed(d);

async function main() {
  const dbServer = await createDatabaseOnServer();
  const port = await freePort();
  const toolUrl = `http://127.0.0.1:${port}`;
  const ours = await spawnTool('--serve-ours', { url: toolUrl, databaseUrl: dbServer.url });
  const db = await connectDatabase(loadConfig({ DATABASE_URL: dbServer.url, LOG_LEVEL: 'silent' }), { poolMax: 2 });
  const store = createStore(db.sequelize);
  const emu = await startPlatformEmulator();
  const ltijsChild = await spawnTool('--serve-ltijs', {
    issuer: emu.issuer,
    clientId: emu.clientId,
    jwksUrl: emu.jwksUrl,
    authUrl: emu.authUrl,
    tokenUrl: emu.tokenUrl,
  });
  const ltijs = { url: ltijsChild.url };
  try {
    const ctx = { actor: 'bench' };
    const tenant = await createTenant(store, ctx, { slug: 'lti-bench', name: 'LTI bench' });
    await addPlatform(store, ctx, tenant.id, {
      issuer: emu.issuer,
      clientId: emu.clientId,
      deploymentId: 'bench-deploy',
      authLoginUrl: emu.authUrl,
      authTokenUrl: emu.tokenUrl,
      jwksUrl: emu.jwksUrl,
      jitCreate: true,
    });

    // ---- 1. round trips
    console.log(
      `LTI login+launch round trips, ${CONCURRENCY} concurrent clients, ${SECONDS} s per run, runs alternating (each tool in its own process; same emulator)`,
    );
    const cpu = { ours: { ms: 0, n: 0 }, ltijs: { ms: 0, n: 0 } };
    const measured = async (
      who: 'ours' | 'ltijs',
      pid: number | undefined,
      run: () => ReturnType<typeof roundTrips>,
    ) => {
      const before = cpuMs(pid);
      const r = await run();
      cpu[who].ms += cpuMs(pid) - before;
      cpu[who].n += r.ok;
      return r;
    };
    const oursRun = (seconds?: number) =>
      measured('ours', ours.proc.pid, () =>
        roundTrips(emu, toolUrl, '/lti/login', `${toolUrl}/lti/launch`, 'bench-deploy', 'bench-user', seconds),
      );
    const baseRun = (seconds?: number) =>
      measured('ltijs', ltijsChild.proc.pid, () =>
        roundTrips(emu, ltijs.url, '/login', `${ltijs.url}/launch`, 'bench-deploy', 'bench-user', seconds),
      );
    await oursRun(1); // warm-up: JIT, JWKS caches, connection pools
    await baseRun(1);
    const ours1 = await oursRun();
    const base = await baseRun();
    const ours2 = await oursRun();
    const base2 = await baseRun();
    for (const [name, r] of [
      ['rosterbridge', ours1],
      ['ltijs', base],
      ['rosterbridge', ours2],
      ['ltijs', base2],
    ] as const) {
      if (r.firstFailure) console.log(`  (${name}: ${r.failed} failed, first: ${r.firstFailure})`);
    }
    const oursRate = (ours1.perSecond + ours2.perSecond) / 2;
    const baseRate = (base.perSecond + base2.perSecond) / 2;
    console.log(
      `  rosterbridge (jose + Hono + PostgreSQL): ${fmt(oursRate)} round trips/s  (runs ${fmt(ours1.perSecond)}, ${fmt(ours2.perSecond)}; failed ${ours1.failed + ours2.failed})`,
    );
    console.log(
      `  ltijs 5 (Express, in-memory DB plugin):  ${fmt(baseRate)} round trips/s  (runs ${fmt(base.perSecond)}, ${fmt(base2.perSecond)}; failed ${base.failed + base2.failed})`,
    );
    console.log(`  ratio: ${fmt(oursRate / baseRate, 2)}× (target ≥ 2×) ${oursRate / baseRate >= 2 ? 'PASS' : 'FAIL'}`);
    const perRt = (w: 'ours' | 'ltijs') => cpu[w].ms / cpu[w].n;
    console.log(
      `  tool-process CPU per round trip (incl. warm-up): rosterbridge ${fmt(perRt('ours'), 2)} ms (+ its PostgreSQL work, not counted), ` +
        `ltijs ${fmt(perRt('ltijs'), 2)} ms; ltijs/rosterbridge ${fmt(perRt('ltijs') / perRt('ours'), 2)}×`,
    );
    console.log(
      '  note: the closed-loop clients and the emulated platform (an RS256 signature per launch) share the 2 cores; the ltijs baseline keeps its data in memory.',
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
    ltijsChild.proc.kill();
    ours.proc.kill();
    await new Promise((r) => setTimeout(r, 300));
    await emu.close();
    await db.close();
    await dbServer.drop();
  }
}

if (process.argv[2]?.startsWith('--serve-')) await child(process.argv[2], process.argv[3]);
else await main();
