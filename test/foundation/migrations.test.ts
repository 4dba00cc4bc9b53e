import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownMigrations, META_TABLE, migrate, pendingMigrations } from '../../src/db/migrator.js';
import { backendName, createTestDatabase, onPostgres, type TestDatabase } from './../support/db.js';

describe(`migrations on ${backendName}`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
  });
  afterAll(() => t.cleanup());

  const tables = async () =>
    (
      await t.db.sequelize.query<{ table_name: string }>(
        `SELECT table_name::text AS table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
        { type: QueryTypes.SELECT },
      )
    ).map((r) => r.table_name);

  it('apply every shipped migration to an empty database, in order', async () => {
    expect(await tables()).toEqual([]);
    const applied = await migrate(t.db.sequelize);
    expect(applied).toEqual(await knownMigrations());
    expect(await tables()).toEqual(
      expect.arrayContaining(['tenants', 'api_tokens', 'audit_events', 'people', META_TABLE]),
    );
    expect(await pendingMigrations(t.db.sequelize)).toEqual([]);
  });

  it('are idempotent: a second run applies nothing', async () => {
    expect(await migrate(t.db.sequelize)).toEqual([]);
  });

  it('leave the database exactly as it was when one fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rb-mig-'));
    try {
      await writeFile(join(dir, '0001_good.sql'), 'CREATE TABLE probe_good (id int);');
      await writeFile(join(dir, '0002_bad.sql'), 'CREATE TABLE probe_bad (id int);\nSELECT no_such_function();');
      await expect(migrate(t.db.sequelize, dir)).rejects.toThrow(/no_such_function/);
      const names = await tables();
      expect(names).toContain('probe_good'); // the earlier migration committed on its own
      expect(names).not.toContain('probe_bad'); // the failed one left nothing behind
      const meta = await t.db.sequelize.query<{ name: string }>(`SELECT name FROM ${META_TABLE}`, {
        type: QueryTypes.SELECT,
      });
      expect(meta.map((m) => m.name)).toContain('0001_good.sql');
      expect(meta.map((m) => m.name)).not.toContain('0002_bad.sql');
    } finally {
      await t.db.sequelize.query('DROP TABLE IF EXISTS probe_good');
      await t.db.sequelize.query(`DELETE FROM ${META_TABLE} WHERE name LIKE '000%_good.sql'`);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!onPostgres)('apply each migration once when two processes migrate at the same time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rb-mig-'));
    const { Sequelize } = await import('sequelize');
    const other = new Sequelize(t.url!, { logging: false });
    try {
      await writeFile(join(dir, '0001_slow.sql'), 'SELECT pg_sleep(0.3); CREATE TABLE probe_race (id int);');
      const [a, b] = await Promise.all([migrate(t.db.sequelize, dir), migrate(other, dir)]);
      expect([...a, ...b]).toEqual(['0001_slow.sql']);
    } finally {
      await other.close();
      await t.db.sequelize.query('DROP TABLE IF EXISTS probe_race');
      await t.db.sequelize.query(`DELETE FROM ${META_TABLE} WHERE name = '0001_slow.sql'`);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
