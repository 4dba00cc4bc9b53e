/**
 * Cost of one LTI login + launch round trip in our tool, per operation rather than per second
 * (issue #13; helpers share the machine, so throughput alone misleads): the tool process's CPU,
 * PostgreSQL's backend CPU for the tool's connections, and transactions (= statements sent in
 * autocommit, plus BEGIN…COMMIT blocks) per round trip. `npx tsx bench/lti-cost.ts`; DATABASE_URL
 * defaults to the local server. Not a *.bench.ts file: `npm run bench` does not run it.
 *
 * The tool runs in its own process (bench/lti.bench.ts --serve-ours); the emulated platform and the
 * clients run here. Warm-up round trips first (JIT, caches, pools), then ROUND_TRIPS measured.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { createStore } from '../src/db/store.js';
import { addPlatform } from '../src/domain/platforms.js';
import { createTenant } from '../src/domain/tenants.js';
import { createDatabaseOnServer } from '../test/support/db.js';
import { Browser, LTI_CLAIM, runLaunch, startPlatformEmulator } from '../test/support/platform-emulator.js';

const ROUND_TRIPS = Number(process.env.ROUND_TRIPS ?? 1000);
const WARM_UP = Number(process.env.WARM_UP ?? 300);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
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
const toolUrl = `http://127.0.0.1:${port}`;
const child = spawn(
  process.execPath,
  ['--import', 'tsx', BENCH, '--serve-ours', JSON.stringify({ url: toolUrl, databaseUrl: dbServer.url })],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'silent' },
  },
);
await new Promise<void>((resolve, reject) => {
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
    if (out.includes('READY')) resolve();
  });
  child.once('exit', (code) => reject(new Error(`tool exited with ${code}`)));
});
const db = await connectDatabase(loadConfig({ DATABASE_URL: dbServer.url, LOG_LEVEL: 'silent' }), { poolMax: 1 });
const store = createStore(db.sequelize);
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
const emu = await startPlatformEmulator();
try {
  const ctx = { actor: 'bench' };
  const tenant = await createTenant(store, ctx, { slug: 'lti-cost', name: 'LTI cost' });
  await addPlatform(store, ctx, tenant.id, {
    issuer: emu.issuer,
    clientId: emu.clientId,
    deploymentId: 'cost-deploy',
    authLoginUrl: emu.authUrl,
    authTokenUrl: emu.tokenUrl,
    jwksUrl: emu.jwksUrl,
    jitCreate: true,
  });
  const payload = {
    sub: 'cost-user',
    [`${LTI_CLAIM}message_type`]: 'LtiResourceLinkRequest',
    [`${LTI_CLAIM}version`]: '1.3.0',
    [`${LTI_CLAIM}deployment_id`]: 'cost-deploy',
    [`${LTI_CLAIM}target_link_uri`]: `${toolUrl}/lti/launch`,
    [`${LTI_CLAIM}resource_link`]: { id: 'rl-cost' },
    [`${LTI_CLAIM}roles`]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'],
    [`${LTI_CLAIM}context`]: { id: 'cost-ctx', title: 'Cost course' },
  };
  const run = async (n: number) => {
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < n) {
          const r = await runLaunch(
            emu,
            { payload },
            { toolUrl, targetLinkUri: `${toolUrl}/lti/launch`, browser: new Browser(), deploymentId: 'cost-deploy' },
          );
          if (r.launch?.status !== 303) failed++;
          await r.launch?.arrayBuffer().catch(() => undefined);
        }
      }),
    );
    if (failed) throw new Error(`${failed} round trips failed`);
  };
  await run(1); // the first launch creates the person, course and membership; every later one is a returning launch
  await run(WARM_UP);
  const backends = async () =>
    (
      await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [dbName],
      )
    ).rows.map((r) => r.pid);
  const xacts = async () =>
    Number(
      (
        await admin.query<{ x: string }>(
          `SELECT xact_commit + xact_rollback AS x FROM pg_stat_database WHERE datname = $1`,
          [dbName],
        )
      ).rows[0].x,
    );
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const pids0 = await backends();
  const pgBefore = new Map(pids0.map((p) => [p, cpuMs(p)]));
  const toolBefore = cpuMs(child.pid!);
  const x0 = await xacts();
  const t0 = performance.now();
  await run(ROUND_TRIPS);
  const secs = (performance.now() - t0) / 1000;
  const toolMs = cpuMs(child.pid!) - toolBefore;
  // Stats are flushed by backends at most every second or so; wait for them.
  await new Promise((r) => setTimeout(r, 1500));
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const x1 = await xacts();
  let pgMs = 0;
  for (const p of await backends()) pgMs += cpuMs(p) - (pgBefore.get(p) ?? 0);
  console.log(`LTI login + launch, ${ROUND_TRIPS} round trips after ${WARM_UP} warm-up, ${CONCURRENCY} clients`);
  console.log(`  tool process CPU:      ${(toolMs / ROUND_TRIPS).toFixed(2)} ms per round trip`);
  console.log(`  PostgreSQL CPU:        ${(pgMs / ROUND_TRIPS).toFixed(2)} ms per round trip (the tool's backends)`);
  console.log(
    `  transactions:          ${((x1 - x0) / ROUND_TRIPS).toFixed(2)} per round trip (statements in autocommit count one each; includes this harness's few reads)`,
  );
  console.log(`  throughput (shared machine, indicative): ${(ROUND_TRIPS / secs).toFixed(1)} round trips/s`);
} finally {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  await emu.close();
  await admin.end();
  await db.close();
  await dbServer.drop();
}
