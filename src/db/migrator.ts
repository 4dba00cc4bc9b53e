import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { Umzug, type UmzugStorage } from 'umzug';

/**
 * Migrations are plain PostgreSQL files in migrations/ (NNNN_name.sql), applied in name order by
 * umzug. Each one runs in its own transaction together with its bookkeeping row, under an advisory
 * lock, so a failed migration leaves the database exactly as it was and two processes starting at
 * once apply each migration once.
 */
// migrations/ beside package.json, found by walking up: the same from src/ (tsx) and from dist/src/ (build).
export const MIGRATIONS_DIR = findMigrationsDir(dirname(fileURLToPath(import.meta.url)));

function findMigrationsDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return join(dir, 'migrations');
    if (dirname(dir) === dir) throw new Error(`no migrations/ directory above ${from}`);
  }
}
export const META_TABLE = 'rosterbridge_migrations';
const LOCK_KEY = 7_202_611; // arbitrary, constant: the advisory lock for migrating

async function ensureMeta(sequelize: Sequelize): Promise<void> {
  await sequelize.query(
    `CREATE TABLE IF NOT EXISTS ${META_TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
}

async function appliedNames(sequelize: Sequelize): Promise<string[]> {
  await ensureMeta(sequelize);
  const rows = await sequelize.query<{ name: string }>(`SELECT name FROM ${META_TABLE} ORDER BY name`, {
    type: QueryTypes.SELECT,
  });
  return rows.map((r) => r.name);
}

function storage(sequelize: Sequelize): UmzugStorage {
  return {
    executed: () => appliedNames(sequelize),
    // The row is written inside the migration's own transaction (see apply); nothing to do here.
    logMigration: async () => {},
    unlogMigration: async ({ name }) => {
      await sequelize.query(`DELETE FROM ${META_TABLE} WHERE name = $1`, { bind: [name] });
    },
  };
}

/** Returns false when another process applied it first. */
async function apply(sequelize: Sequelize, name: string, path: string): Promise<boolean> {
  const sql = await readFile(path, 'utf8');
  return sequelize.transaction(async (transaction) => {
    // Migrations (and waiting for another instance's) are not bound by the server's statement timeout.
    await sequelize.query('SET LOCAL statement_timeout = 0', { transaction });
    await sequelize.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`, { transaction });
    const done = await sequelize.query(`SELECT 1 FROM ${META_TABLE} WHERE name = $1`, {
      bind: [name],
      type: QueryTypes.SELECT,
      transaction,
    });
    if (done.length > 0) return false; // another process applied it while we waited for the lock
    await sequelize.query(sql, { transaction });
    await sequelize.query(`INSERT INTO ${META_TABLE} (name) VALUES ($1)`, { bind: [name], transaction });
    return true;
  });
}

export function createMigrator(sequelize: Sequelize, dir = MIGRATIONS_DIR, applied: string[] = []) {
  return new Umzug({
    migrations: {
      glob: ['*.sql', { cwd: dir }],
      resolve: ({ name, path }) => ({
        name,
        up: async () => {
          if (await apply(sequelize, name, path!)) applied.push(name);
        },
        down: async () => {
          throw new Error(`${name}: migrations are forward-only; restore a backup to go back`);
        },
      }),
    },
    storage: storage(sequelize),
    logger: undefined,
  });
}

/** Applies every pending migration; returns the names applied. */
export async function migrate(sequelize: Sequelize, dir = MIGRATIONS_DIR): Promise<string[]> {
  const applied: string[] = [];
  await createMigrator(sequelize, dir, applied).up();
  return applied;
}

/** Names of migrations in dir that have not been applied (readiness reports "not migrated"). */
export async function pendingMigrations(sequelize: Sequelize, dir = MIGRATIONS_DIR): Promise<string[]> {
  const pending = await createMigrator(sequelize, dir).pending();
  return pending.map((m) => m.name);
}

/** Names of the migrations this build ships, in order. */
export async function knownMigrations(dir = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
}

/** Names of the migrations the database has recorded as applied (throws if it was never migrated). */
export async function appliedMigrations(sequelize: Sequelize, transaction?: Transaction): Promise<string[]> {
  const rows = await sequelize.query<{ name: string }>(`SELECT name FROM ${META_TABLE}`, {
    type: QueryTypes.SELECT,
    transaction,
  });
  return rows.map((r) => r.name);
}
