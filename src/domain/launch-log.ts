import type { Logger } from 'pino';
import type { InferCreationAttributes } from 'sequelize';
import { type LogPageQuery, pageOfLog, tenantLogFor, type WriteBehind } from './write-behind.js';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';
import type { LaunchLogEntry } from './admin-session-models.js';
import { resolveDeployment } from './platforms.js';

/**
 * The launch log: each tenant's last LTI launches, successful or refused, so the school's IT admin
 * sees whether their LMS reaches us and, when a launch fails, which check refused it. Bounded like
 * the provisioning log. A refused launch is attributed to a tenant only through a registered
 * (issuer, client_id, deployment_id) it names; one that names none is left to the server log.
 */
export const KEEP_PER_TENANT = 300;
const PRUNE_EVERY = 25;
const DETAIL_MAX = 300;

export interface LaunchRecord {
  tenantId: string;
  platformId: string | null;
  deploymentId: string | null;
  personId: string | null;
  courseId: string | null;
  /** Role names as sent, shortened to their last fragment ("Instructor", "Administrator"). */
  roles: string[];
  requestId: string | null;
}

export interface FailedLaunchRecord {
  /** Unverified claims of the refused id_token: only used to find whose log it belongs in. */
  issuer: string;
  clientIds: string[];
  deploymentId: string;
  check: string;
  detail: string;
  requestId: string | null;
}

export interface LaunchLogItem {
  id: number;
  at: string;
  ok: boolean;
  failedCheck: string | null;
  detail: string | null;
  platform: string | null;
  deploymentId: string | null;
  person: { id: string; name: string | null } | null;
  course: { id: string; title: string } | null;
  roles: string[];
}

type EntryRow = Omit<InferCreationAttributes<LaunchLogEntry>, 'id'>;

/** Written behind the request (write-behind.ts): one multi-row insert per flush, then pruning. */
function buffer(store: Store, logger?: Pick<Logger, 'warn'>): WriteBehind<EntryRow> {
  return tenantLogFor<EntryRow>(store, 'launch_log', {
    insert: (rows) => store.models.LaunchLogEntry.bulkCreate(rows),
    prune: (tenantId) => pruneLaunchLog(store, tenantId),
    pruneEvery: PRUNE_EVERY,
    logger,
  });
}

function append(store: Store, row: Omit<EntryRow, 'at'>, logger?: Pick<Logger, 'warn'>): void {
  // The moment of the launch, not of the write a moment later.
  buffer(store, logger).add({ ...row, at: new Date() });
}

export function recordLaunch(store: Store, r: LaunchRecord, logger?: Pick<Logger, 'warn'>): void {
  append(
    store,
    {
      tenantId: r.tenantId,
      platformId: r.platformId,
      deploymentId: r.deploymentId,
      ok: true,
      failedCheck: null,
      detail: null,
      personId: r.personId,
      courseId: r.courseId,
      roles: [...new Set(r.roles)].slice(0, 20).map((x) => x.slice(0, 100)),
      requestId: r.requestId,
    },
    logger,
  );
}

/** Records a refused launch in the log of the tenant whose deployment it names; false when it names none. */
export async function recordFailedLaunch(store: Store, r: FailedLaunchRecord): Promise<boolean> {
  for (const clientId of r.clientIds.slice(0, 5)) {
    const platform = await resolveDeployment(store, r.issuer, clientId, r.deploymentId);
    if (!platform) continue;
    append(store, {
      tenantId: platform.tenantId,
      platformId: platform.id,
      deploymentId: r.deploymentId.slice(0, 200),
      ok: false,
      failedCheck: r.check.slice(0, 40),
      detail: r.detail.slice(0, DETAIL_MAX),
      personId: null,
      courseId: null,
      roles: [],
      requestId: r.requestId,
    });
    return true;
  }
  return false;
}

export async function pruneLaunchLog(store: Store, tenantId: string, keep = KEEP_PER_TENANT): Promise<void> {
  // Named SQL: one set-based delete below the keep-th newest id.
  await store.sequelize.query(
    `DELETE FROM launch_log
      WHERE tenant_id = $1
        AND id <= (SELECT id FROM launch_log WHERE tenant_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
    { bind: [tenantId, keep] },
  );
}

interface Row {
  id: number;
  at: Date;
  ok: boolean;
  failed_check: string | null;
  detail: string | null;
  issuer: string | null;
  deployment_id: string | null;
  person_id: string | null;
  person_name: string | null;
  course_id: string | null;
  course_title: string | null;
  roles: string[];
}

/** Newest first, keyset-paged by id; `failedOnly` keeps the refused ones. */
export function listLaunchLog(
  store: Store,
  tenantId: string,
  q: LogPageQuery = {},
): Promise<{ items: LaunchLogItem[]; next: number | null }> {
  return pageOfLog(
    buffer(store),
    tenantId,
    q,
    (bind) =>
      select<Row>(
        store,
        `SELECT l.id, l.at, l.ok, l.failed_check, l.detail, pl.issuer, l.deployment_id, l.roles,
                p.id AS person_id,
                coalesce(p.display_name, nullif(concat_ws(' ', p.given_name, p.family_name), ''), p.primary_email, p.user_name) AS person_name,
                c.id AS course_id, c.title AS course_title
           FROM launch_log l
           LEFT JOIN lti_platforms pl ON pl.tenant_id = l.tenant_id AND pl.id = l.platform_id
           LEFT JOIN people p ON p.tenant_id = l.tenant_id AND p.id = l.person_id AND p.deleted_at IS NULL
           LEFT JOIN courses c ON c.tenant_id = l.tenant_id AND c.id = l.course_id
          WHERE l.tenant_id = $1 AND ($2::bigint IS NULL OR l.id < $2) AND (NOT $3 OR NOT l.ok)
          ORDER BY l.id DESC LIMIT $4`,
        bind,
      ),
    (r) => ({
      id: Number(r.id),
      at: new Date(r.at).toISOString(),
      ok: r.ok,
      failedCheck: r.failed_check,
      detail: r.detail,
      platform: r.issuer,
      deploymentId: r.deployment_id,
      person: r.person_id ? { id: r.person_id, name: r.person_name } : null,
      course: r.course_id ? { id: r.course_id, title: r.course_title ?? '' } : null,
      roles: r.roles ?? [],
    }),
  );
}
