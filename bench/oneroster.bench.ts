/**
 * OneRoster import benchmark on PostgreSQL (DATABASE_URL; `npm run bench -- oneroster`).
 *
 * A generated OneRoster 1.2 bulk bundle of 50,000 users, 2,000 classes and 200,000 enrollments
 * (test/support/oneroster-bundle.ts, streamed to a temporary zip) is imported into an empty tenant
 * by `importOneRosterBundle` — what `rosterbridge oneroster import` runs — in a fresh process.
 * Measured: wall time and the process's peak RSS. Then the same bundle again (every record
 * unchanged: the re-import must report 0 changes). Targets: under 60 s and under 300 MB.
 * The database is created for the run and dropped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { migrate } from '../src/db/migrator.js';
import { createStore } from '../src/db/store.js';
import { importOneRosterBundle } from '../src/domain/oneroster/import.js';
import { createTenant } from '../src/domain/tenants.js';
import { createDatabaseOnServer } from '../test/support/db.js';
import { writeLargeBundle } from '../test/support/oneroster-bundle.js';

const SELF = fileURLToPath(import.meta.url);
// ONEROSTER_BENCH_SCALE=0.1 runs a tenth of the size (a quick look); ONEROSTER_TRACE=1 prints each step's time.
const SCALE = Number(process.env.ONEROSTER_BENCH_SCALE ?? 1);
const SIZE = {
  users: Math.round(50_000 * SCALE),
  classes: Math.round(2_000 * SCALE),
  enrollments: Math.round(200_000 * SCALE),
};
const TARGET = { seconds: 60, rssMb: 300 };

async function openStore(url: string) {
  const db = await connectDatabase(loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'silent' }));
  return { store: createStore(db.sequelize), close: () => db.close() };
}

/** Child: one import, print {ms, maxRssMb, summary}. */
async function child(url: string, tenantId: string, path: string): Promise<void> {
  const { store, close } = await openStore(url);
  const started = performance.now();
  const report = await importOneRosterBundle(store, { actor: 'bench' }, tenantId, path);
  const ms = performance.now() - started;
  await close();
  process.stdout.write(
    JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, summary: report.summary }),
  );
}

function runChild(url: string, tenantId: string, path: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, 'child', url, tenantId, path], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'silent' },
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error('import failed (its error is above)');
  return JSON.parse(r.stdout) as {
    ms: number;
    maxRssMb: number;
    summary: { changes: number; people: { created: number } };
  };
}

async function main(): Promise<void> {
  const server = await createDatabaseOnServer();
  const dir = await mkdtemp(join(tmpdir(), 'rb-oneroster-bench-'));
  try {
    const { store, close } = await openStore(server.url);
    await migrate(store.sequelize);
    const tenant = await createTenant(store, { actor: 'bench' }, { slug: 'big-district', name: 'Big District' });
    await close();
    const path = join(dir, 'bundle.zip');
    await writeLargeBundle(path, { version: '1.2', ...SIZE });
    const zipMb = (await stat(path)).size / 1024 / 1024;
    console.log(
      `bundle: OneRoster 1.2, ${SIZE.users} users, ${SIZE.classes} classes, ${SIZE.enrollments} enrollments (${zipMb.toFixed(1)} MB zip)`,
    );
    const first = runChild(server.url, tenant.id, path);
    const ok = (r: { ms: number; maxRssMb: number }) =>
      r.ms / 1000 < TARGET.seconds && r.maxRssMb < TARGET.rssMb ? 'within target' : 'OVER TARGET';
    console.log(
      `first import:  ${(first.ms / 1000).toFixed(1)} s, peak RSS ${first.maxRssMb.toFixed(0)} MB, ${first.summary.changes} changes (${first.summary.people.created} people created) — ${ok(first)} (${TARGET.seconds} s, ${TARGET.rssMb} MB)`,
    );
    const second = runChild(server.url, tenant.id, path);
    console.log(
      `re-import:     ${(second.ms / 1000).toFixed(1)} s, peak RSS ${second.maxRssMb.toFixed(0)} MB, ${second.summary.changes} changes — ${ok(second)}`,
    );
    if (ok(first) !== 'within target' || second.summary.changes !== 0) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await server.drop();
  }
}

if (process.argv[2] === 'child') await child(process.argv[3], process.argv[4], process.argv[5]);
else await main();
