import type { Logger } from 'pino';
import { type InferCreationAttributes, Op, QueryTypes } from 'sequelize';
import type { ProvisioningLogEntry } from './admin-session-models.js';
import { type LogPageQuery, pageOfLog, tenantLogFor, type WriteBehind } from './write-behind.js';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';

/**
 * The provisioning log: the last SCIM requests of each tenant, as Entra and Okta show theirs, so
 * the school's IT admin can see whether their IdP reaches us and what we answered. Bounded: each
 * tenant keeps its newest KEEP_PER_TENANT entries (and always its latest success, so "last
 * successful SCIM call" survives a run of failures). What is kept is what an admin needs: method,
 * resource type, the id of the person or group touched (its name is looked up when shown, so a
 * wiped person leaves no name in the log), the status and the error detail. Never request bodies,
 * filters or tokens.
 */
export const KEEP_PER_TENANT = 500;
/** Prune a tenant's log after this many inserts by this process. */
const PRUNE_EVERY = 25;
const DETAIL_MAX = 300;

export interface ScimRequestRecord {
  tenantId: string;
  method: string;
  /** Users, Groups, Bulk, ServiceProviderConfig, Schemas, ResourceTypes, Me, … */
  resource: string;
  /** The id of the person or group the request named or created. */
  targetId: string | null;
  /** Bulk: how many operations it carried. */
  operations: number | null;
  status: number;
  detail: string | null;
  tokenId: string | null;
  requestId: string | null;
}

export interface ProvisioningLogItem {
  id: number;
  at: string;
  method: string;
  resource: string;
  target: { kind: 'person' | 'group'; id: string; name: string | null } | null;
  operations: number | null;
  status: number;
  detail: string | null;
}

type EntryRow = Omit<InferCreationAttributes<ProvisioningLogEntry>, 'id'>;

/** Written behind the request (write-behind.ts): one multi-row insert per flush, then pruning. */
function buffer(store: Store, logger?: Pick<Logger, 'warn'>): WriteBehind<EntryRow> {
  return tenantLogFor<EntryRow>(store, 'provisioning_log', {
    insert: (rows) => store.models.ProvisioningLogEntry.bulkCreate(rows),
    prune: (tenantId) => pruneProvisioningLog(store, tenantId),
    pruneEvery: PRUNE_EVERY,
    logger,
  });
}

/** Appends one entry (written within a moment, see WriteBehind); prunes the tenant's log now and then. */
export function recordScimRequest(store: Store, r: ScimRequestRecord, logger?: Pick<Logger, 'warn'>): void {
  buffer(store, logger).add({
    // The moment of the request, not of the write a moment later.
    at: new Date(),
    tenantId: r.tenantId,
    method: r.method.slice(0, 10),
    resource: r.resource.slice(0, 60),
    targetId: r.targetId && r.targetId.length <= 100 ? r.targetId : null,
    operations: r.operations,
    status: r.status,
    detail: r.detail ? r.detail.slice(0, DETAIL_MAX) : null,
    tokenId: r.tokenId,
    requestId: r.requestId,
  });
}

/** Writes the entries this process still holds (readers call it first). */
export function flushProvisioningLog(store: Store): Promise<void> {
  return buffer(store).flush();
}

/** Keeps the tenant's newest `keep` entries and its latest success; returns how many were removed. */
export async function pruneProvisioningLog(store: Store, tenantId: string, keep = KEEP_PER_TENANT): Promise<number> {
  // Named SQL: one set-based delete below the keep-th newest id.
  const [, meta] = await store.sequelize.query(
    `DELETE FROM provisioning_log
      WHERE tenant_id = $1
        AND id <= (SELECT id FROM provisioning_log WHERE tenant_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)
        AND id <> coalesce((SELECT max(id) FROM provisioning_log WHERE tenant_id = $1 AND status < 400), 0)`,
    { bind: [tenantId, keep], type: QueryTypes.RAW },
  );
  return (meta as { rowCount?: number } | undefined)?.rowCount ?? 0;
}

interface LogRow {
  id: number;
  at: Date;
  method: string;
  resource: string;
  target_id: string | null;
  operations: number | null;
  status: number;
  detail: string | null;
  person_name: string | null;
  person_found: boolean;
  group_name: string | null;
  group_found: boolean;
}

/** Newest first, keyset-paged by id (`before`). Names of the people and groups touched, as they are now. */
export function listProvisioningLog(
  store: Store,
  tenantId: string,
  q: LogPageQuery = {},
): Promise<{ items: ProvisioningLogItem[]; next: number | null }> {
  return pageOfLog(
    buffer(store),
    tenantId,
    q,
    (bind) =>
      select<LogRow>(
        store,
        `SELECT l.id, l.at, l.method, l.resource, l.target_id, l.operations, l.status, l.detail,
                coalesce(p.display_name, nullif(concat_ws(' ', p.given_name, p.family_name), ''), p.user_name) AS person_name,
                p.id IS NOT NULL AS person_found,
                g.display_name AS group_name, g.id IS NOT NULL AS group_found
           FROM provisioning_log l
           LEFT JOIN people p ON l.resource = 'Users' AND p.tenant_id = l.tenant_id AND p.id::text = l.target_id
           LEFT JOIN groups g ON l.resource = 'Groups' AND g.tenant_id = l.tenant_id AND g.id::text = l.target_id
          WHERE l.tenant_id = $1 AND ($2::bigint IS NULL OR l.id < $2) AND (NOT $3 OR l.status >= 400)
          ORDER BY l.id DESC LIMIT $4`,
        bind,
      ),
    (r) => ({
      id: Number(r.id),
      at: new Date(r.at).toISOString(),
      method: r.method,
      resource: r.resource,
      target:
        r.target_id && (r.person_found || r.group_found)
          ? {
              kind: r.person_found ? ('person' as const) : ('group' as const),
              id: r.target_id,
              name: r.person_found ? r.person_name : r.group_name,
            }
          : null,
      operations: r.operations,
      status: r.status,
      detail: r.detail,
    }),
  );
}

/** When the tenant's IdP last got a successful answer (null: never, or not since the log began). */
export async function lastScimSuccess(store: Store, tenantId: string): Promise<string | null> {
  await buffer(store).flush();
  const latest = await store.models.ProvisioningLogEntry.findOne({
    where: { tenantId, status: { [Op.lt]: 400 } },
    attributes: ['at'],
    order: [['id', 'DESC']],
    raw: true,
  });
  const at = latest?.at;
  return at ? new Date(at).toISOString() : null;
}

/** How many people the tenant has in each status (deleted people aside). */
export async function peopleByStatus(store: Store, tenantId: string): Promise<Record<string, number>> {
  const rows = (await store.models.Person.count({
    where: { tenantId, deletedAt: null },
    group: ['status'],
  })) as unknown as Array<{ status: string; count: number | string }>;
  const out: Record<string, number> = {};
  for (const r of rows) out[r.status] = Number(r.count);
  return out;
}
