import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrator.js';
import { createStore, type Store } from '../../src/db/store.js';

/**
 * Every test file gets a database of its own: on PostgreSQL (when DATABASE_URL is set) a fresh
 * database created on that server and dropped after; otherwise an in-memory PGlite. Runs never
 * collide and never need an empty server.
 */
export const onPostgres = Boolean(process.env.DATABASE_URL);
export const backendName = onPostgres ? 'postgres' : 'pglite';

export interface TestDatabase {
  config: Config;
  db: Database;
  store: Store;
  /** The database URL of this test database (PostgreSQL only). */
  url?: string;
  dataDir?: string;
  cleanup(): Promise<void>;
}

export async function createDatabaseOnServer(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.DATABASE_URL!;
  const name = `rb_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A test database configuration without connecting: for tests that start the server themselves. */
export async function testDatabaseConfig(
  env: Record<string, string> = {},
): Promise<{ config: Config; cleanup(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rb-test-'));
  if (onPostgres) {
    const server = await createDatabaseOnServer();
    return {
      config: loadConfig({
        DATABASE_URL: server.url,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        PORT: '0',
        HOST: '127.0.0.1',
        ...env,
      }),
      async cleanup() {
        await server.drop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  }
  return {
    config: loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', ...env }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
}

/** A connected, migrated test database. */
export async function createTestDatabase(
  options: { migrate?: boolean; env?: Record<string, string> } = {},
): Promise<TestDatabase> {
  const { config, cleanup } = await testDatabaseConfig(options.env);
  const db = await connectDatabase(config, { persist: false });
  if (options.migrate !== false) await migrate(db.sequelize);
  return {
    config,
    db,
    store: createStore(db.sequelize),
    url: config.databaseUrl,
    dataDir: config.dataDir,
    async cleanup() {
      await db.close();
      await cleanup();
    },
  };
}
