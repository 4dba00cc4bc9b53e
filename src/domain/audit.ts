import { Op, type Transaction } from 'sequelize';
import type { ActorContext, Store } from '../db/store.js';

export interface AuditEntry {
  tenantId: string;
  action: string;
  targetType: string;
  targetId: string;
  before?: unknown;
  after?: unknown;
}

/** Writes one audit event inside the caller's transaction: the change and its record commit together. */
export async function recordAudit(store: Store, t: Transaction, ctx: ActorContext, entry: AuditEntry): Promise<void> {
  await store.models.AuditEvent.create(
    {
      tenantId: entry.tenantId,
      actor: ctx.actor,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      before: entry.before ?? null,
      after: entry.after ?? null,
      requestId: ctx.requestId ?? null,
    },
    { transaction: t },
  );
}

export interface AuditQuery {
  tenantId: string;
  targetType?: string;
  targetId?: string;
  actor?: string;
  action?: string;
  since?: Date;
  until?: Date;
  limit?: number;
}

export async function listAudit(store: Store, q: AuditQuery) {
  const where: Record<string | symbol, unknown> = { tenantId: q.tenantId };
  if (q.targetType) where.targetType = q.targetType;
  if (q.targetId) where.targetId = q.targetId;
  if (q.actor) where.actor = q.actor;
  if (q.action) where.action = q.action;
  if (q.since || q.until) {
    where.at = { ...(q.since ? { [Op.gte]: q.since } : {}), ...(q.until ? { [Op.lt]: q.until } : {}) };
  }
  const rows = await store.models.AuditEvent.findAll({
    where,
    order: [
      ['at', 'DESC'],
      ['id', 'DESC'],
    ],
    limit: Math.min(q.limit ?? 100, 1000),
  });
  return rows.map((r) => r.get({ plain: true }));
}
