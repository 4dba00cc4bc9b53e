import { Transaction } from 'sequelize';
import { appliedMigrations } from '../db/migrator.js';
import { exec, select } from '../db/sql.js';
import { type ActorContext, inTransaction, type Store } from '../db/store.js';
import { BadRequestError, ConflictError } from '../errors.js';
import { findTenantForOperator } from './tenant-lifecycle.js';
import { flushWriteBehind } from './write-behind.js';
import { ident, NOT_EXPORTED, SECRET_COLUMNS, type TenantTable, tenantTables } from './tenant-tables.js';

/**
 * A tenant as one JSON document, written and read one line per row so that neither side holds the
 * tenant in memory:
 *
 *   {"format":"rosterbridge-tenant-export","schemaVersion":1,"migration":"…","notExported":{…},
 *   "tenant":{…},
 *   "tables":{
 *   "people":[
 *   {…row…},
 *   {…row…}
 *   ],
 *   …
 *   }}
 *
 * The whole is valid JSON (any JSON tool reads it); JSON strings never hold a raw newline, so a
 * line is always one row. Rows come in primary-key order from one snapshot, with timestamps in
 * UTC: exporting the same data twice gives the same bytes.
 */
export const EXPORT_FORMAT = 'rosterbridge-tenant-export';
export const EXPORT_SCHEMA_VERSION = 1;
const PAGE = 1_000;

const exportedColumns = (table: TenantTable) =>
  table.columns.filter((c) => !(SECRET_COLUMNS[table.name] ?? []).includes(c));

/** Streams a tenant's document (live or soft-deleted; `ref` is its slug or id). */
export async function* exportTenant(store: Store, ref: string): AsyncGenerator<string> {
  const tenant = await findTenantForOperator(store, ref);
  // The logs this process has answered but not yet written (write-behind.ts) belong in the document.
  await flushWriteBehind(store);
  // One REPEATABLE READ snapshot: rows written meanwhile are either all in the document or not.
  const t = await store.sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.REPEATABLE_READ });
  try {
    await exec(store, `SET LOCAL TimeZone = 'UTC'`, [], t);
    const migrations = await appliedMigrations(store.sequelize, t);
    const tables = (await tenantTables(store, t)).filter((table) => !(table.name in NOT_EXPORTED));
    const [tenantRow] = await select<{ j: string }>(
      store,
      `SELECT row_to_json(x)::text AS j FROM (SELECT id, slug, name, status, seat_limit, created_at, updated_at
         FROM tenants WHERE id = $1) x`,
      [tenant.id],
      t,
    );
    const header = {
      format: EXPORT_FORMAT,
      schemaVersion: EXPORT_SCHEMA_VERSION,
      migration: migrations.sort().at(-1),
      notExported: { ...NOT_EXPORTED, ...secretColumnsNote() },
    };
    yield `${JSON.stringify(header).slice(0, -1)},\n"tenant":${tenantRow.j},\n"tables":{\n`;
    for (const [i, table] of tables.entries()) {
      yield `${JSON.stringify(table.name)}:[\n`;
      const cursor = `export_${i}`;
      await exec(
        store,
        `DECLARE ${cursor} NO SCROLL CURSOR FOR
           SELECT row_to_json(x)::text AS j FROM (SELECT ${exportedColumns(table).map(ident).join(', ')}
             FROM ${ident(table.name)} WHERE tenant_id = '${tenant.id}'
            ORDER BY ${table.primaryKey.map(ident).join(', ')}) x`,
        [],
        t,
      );
      let first = true;
      for (;;) {
        const rows = await select<{ j: string }>(store, `FETCH ${PAGE} FROM ${cursor}`, [], t);
        if (rows.length) {
          yield `${first ? '' : ',\n'}${rows.map((r) => r.j).join(',\n')}`;
          first = false;
        }
        if (rows.length < PAGE) break;
      }
      await exec(store, `CLOSE ${cursor}`, [], t);
      yield `${first ? '' : '\n'}]${i < tables.length - 1 ? ',' : ''}\n`;
    }
    yield '}}\n';
    await t.commit();
  } catch (err) {
    await t.rollback();
    throw err;
  }
}

function secretColumnsNote(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(SECRET_COLUMNS).map(([table, cols]) => [`${table}.${cols.join(',')}`, 'secrets: never exported']),
  );
}

export interface ImportResult {
  tenant: { id: string; slug: string; name: string };
  rows: Record<string, number>;
}

/**
 * Restores an exported tenant into this database, ids kept, in one transaction (nothing is visible
 * until every row is in). The tenant must not exist here (wipe it first); `slug` renames it when
 * its old slug has been taken meanwhile. Secret columns left out of the export get fresh values
 * nobody knows (an invitation must be re-sent), and tokens must be created anew.
 */
export async function importTenant(
  store: Store,
  ctx: ActorContext,
  input: AsyncIterable<string | Buffer>,
  options: { slug?: string } = {},
): Promise<ImportResult> {
  return inTransaction(store, async (t) => {
    const known = new Set(await appliedMigrations(store.sequelize, t));
    const tables = new Map((await tenantTables(store, t)).map((table) => [table.name, table]));
    const rows: Record<string, number> = {};
    let tenant: ImportResult['tenant'] | undefined;
    let table: TenantTable | undefined;
    let batch: Record<string, unknown>[] = [];
    let selfRefs: Record<string, unknown>[] = [];
    let lineNo = 0;

    const flush = async () => {
      if (!table || !batch.length) return;
      await insertRows(store, t, table, batch);
      const { primaryKey, selfReferences } = table;
      for (const row of batch) {
        if (selfReferences.some((c) => row[c] != null)) {
          selfRefs.push(Object.fromEntries([...primaryKey, ...selfReferences].map((c) => [c, row[c]])));
        }
      }
      rows[table.name] = (rows[table.name] ?? 0) + batch.length;
      batch = [];
    };
    const bad = (why: string) => new BadRequestError(`Not a tenant export (line ${lineNo}): ${why}`);

    for await (const raw of linesOf(input)) {
      lineNo++;
      const line = raw.trim();
      if (!line) continue;
      if (lineNo === 1) {
        const header = parseLine(`${line.replace(/,$/, '')}}`, bad) as Record<string, unknown>;
        if (header.format !== EXPORT_FORMAT) throw bad(`format is ${JSON.stringify(header.format)}`);
        if (header.schemaVersion !== EXPORT_SCHEMA_VERSION) {
          throw bad(`schemaVersion ${header.schemaVersion} is not ${EXPORT_SCHEMA_VERSION}`);
        }
        if (typeof header.migration !== 'string' || !known.has(header.migration)) {
          throw bad(`it was made by a newer schema (${header.migration}); upgrade this service first`);
        }
      } else if (line.startsWith('"tenant":')) {
        tenant = await insertTenant(store, t, parseLine(line.slice(9).replace(/,$/, ''), bad), options.slug);
        // A new tenant is seeded by triggers (the privilege catalogue, role defaults); the
        // document's rows replace whatever the database made on its own.
        for (const table of [...tables.values()].reverse()) {
          await exec(store, `DELETE FROM ${ident(table.name)} WHERE tenant_id = $1`, [tenant.id], t);
        }
      } else if (line === '"tables":{' || line === '}}') {
        // structure only
      } else if (/^"[a-z_]+":\[$/.test(line)) {
        if (!tenant) throw bad('rows before the tenant');
        await flush();
        const name = line.slice(1, line.indexOf('"', 1));
        table = tables.get(name);
        if (!table) throw bad(`this database has no tenant table ${name}`);
        rows[name] = 0;
      } else if (line === ']' || line === '],') {
        await flush();
        if (table) await restoreSelfReferences(store, t, table, selfRefs);
        table = undefined;
        selfRefs = [];
      } else {
        if (!table || !tenant) throw bad('a row outside a table');
        const row = parseLine(line.replace(/,$/, ''), bad) as Record<string, unknown>;
        if (row.tenant_id !== tenant.id) throw bad(`a ${table.name} row of another tenant`);
        batch.push(row);
        if (batch.length >= PAGE) await flush();
      }
    }
    if (!tenant) throw bad('no tenant in the document');
    for (const table of tables.values()) if (table.serial && rows[table.name]) await moveSequence(store, t, table);
    await store.models.OperatorAuditEvent.create(
      {
        actor: ctx.actor,
        action: 'tenant.import',
        targetTenantId: tenant.id,
        targetTenantSlug: tenant.slug,
        detail: { rows },
      },
      { transaction: t },
    );
    return { tenant, rows };
  });
}

/**
 * Lines of a byte or text stream. Not node:readline: it reads in flowing mode from the start and
 * drops lines emitted while the importer awaits its first queries; a stream's own iterator waits.
 */
async function* linesOf(input: AsyncIterable<string | Buffer>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of input) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const lines = rest.split('\n');
    rest = lines.pop()!;
    yield* lines;
  }
  rest += decoder.decode();
  if (rest) yield rest;
}

function parseLine(text: string, bad: (why: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw bad('a line is not JSON');
  }
}

async function insertTenant(
  store: Store,
  t: Transaction,
  row: unknown,
  slug: string | undefined,
): Promise<ImportResult['tenant']> {
  const doc = row as { id: string; slug: string; name: string; status: string; seat_limit: number | null };
  const { Tenant } = store.models;
  if (await Tenant.findByPk(doc.id, { transaction: t, lock: t.LOCK.UPDATE })) {
    throw new ConflictError(`Tenant ${doc.slug} (${doc.id}) exists here; wipe it before importing it again`);
  }
  const finalSlug = slug ?? doc.slug;
  if (await Tenant.findOne({ where: { slug: finalSlug, deletedAt: null }, transaction: t })) {
    throw new ConflictError(`The slug "${finalSlug}" is taken by another tenant; import with another slug`);
  }
  await exec(
    store,
    `INSERT INTO tenants (id, slug, name, status, seat_limit, created_at, updated_at)
     SELECT id, $2, name, status, seat_limit, created_at, updated_at FROM json_populate_record(null::tenants, $1::json)`,
    [JSON.stringify(row), finalSlug],
    t,
  );
  return { id: doc.id, slug: finalSlug, name: doc.name };
}

/** One statement per batch: PostgreSQL converts the JSON values to the columns' types. */
async function insertRows(store: Store, t: Transaction, table: TenantTable, batch: Record<string, unknown>[]) {
  const secrets = SECRET_COLUMNS[table.name] ?? [];
  const columns = table.columns.map((c) => {
    if (table.selfReferences.includes(c)) return 'NULL';
    if (secrets.includes(c)) return `encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex')`;
    return ident(c);
  });
  await exec(
    store,
    `INSERT INTO ${ident(table.name)} (${table.columns.map(ident).join(', ')})
     SELECT ${columns.join(', ')} FROM json_populate_recordset(null::${ident(table.name)}, $1::json)`,
    [JSON.stringify(batch)],
    t,
  );
}

/**
 * Self references (a merged person's merged_into) may point at rows later in the document: the rows
 * go in with them NULL, and once the table is complete one UPDATE sets them from the few rows that
 * had one (kept aside while inserting).
 */
async function restoreSelfReferences(
  store: Store,
  t: Transaction,
  table: TenantTable,
  refs: Record<string, unknown>[],
) {
  if (!refs.length) return;
  const sets = table.selfReferences.map((c) => `${ident(c)} = COALESCE(x.${ident(c)}, t.${ident(c)})`);
  const match = table.primaryKey.map((c) => `t.${ident(c)} = x.${ident(c)}`);
  await exec(
    store,
    `UPDATE ${ident(table.name)} t SET ${sets.join(', ')}
       FROM json_populate_recordset(null::${ident(table.name)}, $1::json) x WHERE ${match.join(' AND ')}`,
    [JSON.stringify(refs)],
    t,
  );
}

/** Moves a bigserial's sequence past the imported ids (only ever forward), so new rows get new ids. */
async function moveSequence(store: Store, t: Transaction, table: TenantTable) {
  await select(
    store,
    `SELECT setval(x.s, x.m) FROM (SELECT pg_get_serial_sequence($1, $2) AS s,
            (SELECT max(${ident(table.serial!)}) FROM ${ident(table.name)}) AS m) x
      WHERE x.m > COALESCE(pg_sequence_last_value(x.s::regclass), 0)`,
    [table.name, table.serial],
    t,
  );
}
