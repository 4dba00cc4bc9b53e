import { type DataType, type Model, type ModelStatic, QueryTypes, Sequelize } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { META_TABLE } from '../../src/db/migrator.js';
import { defineModels, type Models } from '../../src/db/models.js';
import { backendName, createTestDatabase, type TestDatabase } from '../support/db.js';

interface LiveColumn {
  table_name: string;
  column_name: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
}

// The PostgreSQL type (information_schema udt_name) each Sequelize data type is stored as.
const UDT_BY_SEQUELIZE_TYPE: Record<string, string> = {
  UUID: 'uuid',
  TEXT: 'text',
  STRING: 'varchar',
  INTEGER: 'int4',
  BIGINT: 'int8',
  BOOLEAN: 'bool',
  DATE: 'timestamptz',
  JSONB: 'jsonb',
};

function udtOf(type: DataType): string {
  const t = type as unknown as { key: string; type?: { key: string } };
  if (t.key === 'ARRAY' && t.type) return `_${UDT_BY_SEQUELIZE_TYPE[t.type.key] ?? t.type.key}`;
  return UDT_BY_SEQUELIZE_TYPE[t.key] ?? t.key;
}

/** Every difference between the models and the live schema, one readable line each. */
async function schemaDrift(sequelize: Sequelize, models: Models): Promise<string[]> {
  const live = await sequelize.query<LiveColumn>(
    `SELECT table_name::text, column_name::text, udt_name::text, is_nullable::text
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> :meta`,
    { type: QueryTypes.SELECT, replacements: { meta: META_TABLE } },
  );
  const drift: string[] = [];
  const modelled = new Set<string>();
  for (const model of Object.values(models) as ModelStatic<Model>[]) {
    const table = model.getTableName() as string;
    modelled.add(table);
    const columns = new Map(live.filter((c) => c.table_name === table).map((c) => [c.column_name, c]));
    if (columns.size === 0) drift.push(`${table}: modelled by ${model.name} but not in the database`);
    const seen = new Set<string>();
    for (const [name, attr] of Object.entries(model.getAttributes())) {
      const column = attr.field ?? name;
      seen.add(column);
      const c = columns.get(column);
      if (!c) {
        if (columns.size > 0) drift.push(`${table}.${column}: in model ${model.name} but not in the table`);
        continue;
      }
      const type = udtOf(attr.type as DataType);
      if (type !== c.udt_name) drift.push(`${table}.${column}: model type ${type}, column type ${c.udt_name}`);
      const nullable = attr.allowNull !== false;
      if (nullable !== (c.is_nullable === 'YES')) {
        drift.push(`${table}.${column}: model allowNull ${nullable}, column is_nullable ${c.is_nullable}`);
      }
    }
    for (const column of columns.keys()) {
      if (!seen.has(column)) drift.push(`${table}.${column}: in the table but not in model ${model.name}`);
    }
  }
  for (const table of new Set(live.map((c) => c.table_name))) {
    if (!modelled.has(table)) drift.push(`${table}: in the database but no model`);
  }
  return drift.sort();
}

describe(`models match the migrated schema on ${backendName}`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t?.cleanup());

  it('every table has a model, every column an attribute of the same type and nullability', async () => {
    expect(await schemaDrift(t.db.sequelize, t.store.models)).toEqual([]);
  });

  it('covers every table the migrations create', () => {
    expect(Object.keys(t.store.models)).toHaveLength(40);
  });

  it('reports a column a migration adds that the model lacks, and a changed nullability', async () => {
    const q = t.db.sequelize;
    await q.query('ALTER TABLE person_emails ADD COLUMN verified_at timestamptz');
    await q.query('ALTER TABLE courses ALTER COLUMN external_key SET NOT NULL');
    try {
      expect(await schemaDrift(q, t.store.models)).toEqual([
        'courses.external_key: model allowNull true, column is_nullable NO',
        'person_emails.verified_at: in the table but not in model PersonEmail',
      ]);
    } finally {
      await q.query('ALTER TABLE person_emails DROP COLUMN verified_at');
      await q.query('ALTER TABLE courses ALTER COLUMN external_key DROP NOT NULL');
    }
  });

  it('reports a column the model has that the table lost, a changed type and a table without a model', async () => {
    const q = t.db.sequelize;
    await q.query('CREATE TABLE probe_unmodelled (id int)');
    await q.query('ALTER TABLE outbox DROP COLUMN last_error');
    await q.query('ALTER TABLE tool_keys ALTER COLUMN public_jwk TYPE json');
    try {
      expect(await schemaDrift(q, t.store.models)).toEqual([
        'outbox.last_error: in model OutboxMessage but not in the table',
        'probe_unmodelled: in the database but no model',
        'tool_keys.public_jwk: model type jsonb, column type json',
      ]);
    } finally {
      await q.query('DROP TABLE probe_unmodelled');
      await q.query('ALTER TABLE outbox ADD COLUMN last_error text');
      await q.query('ALTER TABLE tool_keys ALTER COLUMN public_jwk TYPE jsonb');
    }
    expect(await schemaDrift(q, t.store.models)).toEqual([]);
  });

  it('binds models per connection, so one process can hold two databases', async () => {
    const other = new Sequelize('postgres://nobody@127.0.0.1:1/none', { logging: false });
    try {
      const second = defineModels(other);
      expect(second.Person.sequelize).toBe(other);
      expect(t.store.models.Person.sequelize).toBe(t.db.sequelize);
      expect(await t.store.models.Person.count()).toBe(0);
    } finally {
      await other.close();
    }
  });
});
