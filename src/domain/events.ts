import type { Transaction } from 'sequelize';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';
import { addJob } from '../jobs/queue.js';

/**
 * Events the school's other systems can subscribe to with a webhook endpoint. Each is written by
 * the change that causes it, in that change's transaction (the outbox: rb_webhook_emit in
 * migrations/0070_webhooks.sql), so a committed change always has its event and a rolled-back one
 * never does. The person events come from triggers on `people`; the others from the calls below.
 */
export const EVENT_TYPES = [
  'person.provisioned',
  'person.realized',
  'person.deprovisioned',
  'privileges.changed',
  'roster.synced',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The queue task that turns new deliveries into delivery jobs (src/domain/webhooks.ts). */
export const DISPATCH_TASK = 'webhooks.dispatch';

/** Asks this process's queue to dispatch new deliveries (after a commit); a no-op without one. */
export function kickWebhookDispatch(store: Pick<Store, 'sequelize'>): void {
  void addJob(store, DISPATCH_TASK, {}, { jobKey: 'dispatch' }).catch(() => {
    // the scheduled sweep dispatches it within a minute
  });
}

/**
 * Writes `type` events with these data (one each) for the tenant in `t`; nothing when no endpoint
 * of the tenant listens to the type. Returns how many events were written.
 */
export async function emitEvents(
  store: Store,
  t: Transaction,
  tenantId: string,
  type: EventType,
  data: Array<Record<string, unknown>>,
): Promise<number> {
  if (!data.length) return 0;
  const [row] = await select<{ n: number }>(
    store,
    `SELECT count(rb_webhook_emit($1, $2, x))::int AS n FROM jsonb_array_elements($3::jsonb) AS x`,
    [tenantId, type, JSON.stringify(data)],
    t,
  );
  if (row.n > 0) t.afterCommit(() => kickWebhookDispatch(store));
  return row.n;
}

export function emitEvent(
  store: Store,
  t: Transaction,
  tenantId: string,
  type: EventType,
  data: Record<string, unknown>,
): Promise<number> {
  return emitEvents(store, t, tenantId, type, [data]);
}

/** What a roster sync (LTI NRPS or OneRoster) reports when it has applied, for `roster.synced`. */
export interface RosterSyncedData {
  source: 'nrps' | 'oneroster-csv' | 'oneroster-api';
  /** The course synced (NRPS), or null for a tenant-wide import. */
  courseId: string | null;
  added: number;
  updated: number;
  ended: number;
  errors: number;
  [key: string]: unknown;
}

/** `roster.synced`, written in the transaction that applied the sync. */
export function emitRosterSynced(store: Store, t: Transaction, tenantId: string, data: RosterSyncedData) {
  return emitEvent(store, t, tenantId, 'roster.synced', data);
}

/** One subject's grants in one course changed (the grant writer's audit entries, before and after). */
export interface PrivilegesChange {
  targetId: string;
  before?: unknown;
  after?: unknown;
}

/** `privileges.changed`, one per subject whose grants changed, in the grant writer's transaction. */
export function emitPrivilegesChanged(
  store: Store,
  t: Transaction,
  tenantId: string,
  subjectType: 'person' | 'group',
  changes: PrivilegesChange[],
  actor: string,
) {
  return emitEvents(
    store,
    t,
    tenantId,
    'privileges.changed',
    changes.map((c) => ({ subjectType, before: c.before ?? null, after: c.after ?? null, actor })),
  );
}
