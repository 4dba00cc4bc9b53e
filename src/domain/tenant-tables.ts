import type { Transaction } from 'sequelize';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';

/**
 * The tables a tenant owns, read from PostgreSQL's catalogue rather than a hand-kept list: every
 * table with a `tenant_id` column. A table a later migration adds is wiped, and exported unless it
 * is named below, without anyone remembering to add it here.
 */
export interface TenantTable {
  name: string;
  /** Columns a row is written with (generated columns are left out: the database computes them). */
  columns: string[];
  /** Primary key columns, the order rows are exported in. */
  primaryKey: string[];
  /** Columns referencing another row of the same table (people.merged_into): set in a second pass. */
  selfReferences: string[];
  /** A bigserial column whose sequence must move past imported ids. */
  serial: string | null;
}

/**
 * Tenant tables an export leaves out, and why. Secrets never leave the database; short-lived
 * protocol state is useless elsewhere. Wipe-out still erases them.
 */
export const NOT_EXPORTED: Record<string, string> = {
  admin_sessions: 'admin page sign-in secrets (hashes): a restored tenant signs in again',
  api_tokens: 'bearer token hashes: a restored tenant gets new tokens',
  lti_registration_links: 'single-use registration secrets',
  lti_tickets: 'one-minute launch tickets',
  outbox: 'mail already queued or sent',
  webhook_endpoints: 'signing secrets: a restored tenant registers its endpoints again',
  webhook_events: 'events already emitted',
  webhook_deliveries: 'deliveries already made or dead-lettered',
  webhook_attempts: 'deliveries already made or dead-lettered',
};
/** Columns an export leaves out: secrets. An import fills them with fresh unusable values. */
export const SECRET_COLUMNS: Record<string, string[]> = { invitations: ['token_hash'] };

interface CatalogueColumn {
  table_name: string;
  column_name: string;
  is_generated: string;
  column_default: string | null;
}
interface CatalogueKey {
  table_name: string;
  column_name: string;
  kind: 'p' | 'f';
  references: string | null;
}

/**
 * The tenant's tables in an order that respects their foreign keys (a referenced table before the
 * tables referencing it): import inserts in this order, wipe-out deletes in reverse.
 */
export async function tenantTables(store: Store, t?: Transaction): Promise<TenantTable[]> {
  const columns = await select<CatalogueColumn>(
    store,
    `SELECT c.table_name::text, c.column_name::text, c.is_generated::text, c.column_default::text
       FROM information_schema.columns c
      WHERE c.table_schema = 'public'
        AND c.table_name IN (SELECT table_name FROM information_schema.columns
                              WHERE table_schema = 'public' AND column_name = 'tenant_id')
      ORDER BY c.table_name, c.ordinal_position`,
    [],
    t,
  );
  const keys = await select<CatalogueKey>(
    store,
    `SELECT rel.relname::text AS table_name, att.attname::text AS column_name, con.contype::text AS kind,
            ref.relname::text AS references
       FROM pg_constraint con
       JOIN pg_class rel ON rel.oid = con.conrelid
       JOIN pg_namespace ns ON ns.oid = rel.relnamespace AND ns.nspname = 'public'
       LEFT JOIN pg_class ref ON ref.oid = con.confrelid
       CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k (attnum, n)
       JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
      WHERE con.contype IN ('p', 'f')
      ORDER BY rel.relname, con.conname, k.n`,
    [],
    t,
  );
  const tables = new Map<string, TenantTable>();
  for (const c of columns) {
    let table = tables.get(c.table_name);
    if (!table) {
      table = { name: c.table_name, columns: [], primaryKey: [], selfReferences: [], serial: null };
      tables.set(c.table_name, table);
    }
    if (c.is_generated === 'ALWAYS') continue;
    table.columns.push(c.column_name);
    if (c.column_default?.startsWith('nextval(')) table.serial = c.column_name;
  }
  const dependsOn = new Map<string, Set<string>>([...tables.keys()].map((name) => [name, new Set<string>()]));
  for (const k of keys) {
    const table = tables.get(k.table_name);
    if (!table) continue;
    if (k.kind === 'p') table.primaryKey.push(k.column_name);
    else if (k.references === k.table_name) table.selfReferences.push(k.column_name);
    else if (k.references && tables.has(k.references)) dependsOn.get(k.table_name)!.add(k.references);
  }
  // Depth-first topological order; ties by name so the order (and an export) is stable.
  const ordered: TenantTable[] = [];
  const done = new Set<string>();
  const visit = (name: string, path: Set<string>) => {
    if (done.has(name)) return;
    if (path.has(name)) throw new Error(`Foreign keys form a cycle through ${name}`);
    path.add(name);
    for (const dep of [...dependsOn.get(name)!].sort()) visit(dep, path);
    path.delete(name);
    done.add(name);
    ordered.push(tables.get(name)!);
  };
  for (const name of [...tables.keys()].sort()) visit(name, new Set());
  return ordered;
}

/** A double-quoted SQL identifier; the names come from the catalogue, quoting keeps them inert. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
