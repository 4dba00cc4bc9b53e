import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench`: runs every bench/*.bench.ts in turn, each in its own process so one benchmark's
 * warm caches never flatter the next. Benchmarks measure on PostgreSQL (DATABASE_URL, default the
 * local server) and print their numbers with ratios against a baseline measured in the same run.
 * `npm run bench -- scim` runs only files whose name contains "scim".
 */
const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  LOG_LEVEL: 'silent',
};
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n=== ${f} ===\n`);
  const started = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}/${f}`], { stdio: 'inherit', env });
  process.stdout.write(`(${f}: ${((performance.now() - started) / 1000).toFixed(0)} s, exit ${r.status})\n`);
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
