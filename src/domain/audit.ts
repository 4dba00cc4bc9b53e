import { Op, type Transaction, type WhereOptions } from 'sequelize';
import { exec } from '../db/sql.js';
import type { ActorContext, Store } from '../db/store.js';
import { ValidationError } from '../errors.js';
import { UUID } from '../ids.js';
import { changedOnCommit } from './change-signal.js';
import type { AuditEvent } from './tenancy-models.js';

export interface AuditEntry {
  tenantId: string;
  action: string;
  targetType: string;
  targetId: string;
  before?: unknown;
  after?: unknown;
}

/**
 * Writes one audit event inside the caller's transaction: the change and its record commit together.
 * Every change worth auditing may change decisions, so this is also where the tenant is signalled
 * (after commit) for the authorization cache; writers need not remember a second call.
 */
export async function recordAudit(store: Store, t: Transaction, ctx: ActorContext, entry: AuditEntry): Promise<void> {
  changedOnCommit(t, entry.tenantId, personChanged(entry));
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

/**
 * The one person whose decisions an audited change can touch, when there is one: a person's own
 * record, or their grants or membership in a course ("course/person" or "course:person"). Anything
 * else (groups, catalogue, courses, tokens, the tenant) may touch everyone in the tenant.
 */
function personChanged(entry: AuditEntry): string | undefined {
  if (entry.targetType === 'person') return UUID.test(entry.targetId) ? entry.targetId : undefined;
  if (entry.targetType === 'course_person' || entry.targetType === 'course_membership') {
    const person = entry.targetId.split(/[/:]/)[1];
    return person && UUID.test(person) ? person : undefined;
  }
  return undefined;
}

/** An event of a batch: the tenant is the batch's. */
export type AuditBatchEntry = Omit<AuditEntry, 'tenantId'>;

/** One multi-row insert of audit events for batch operations (bulk enrolment); same columns as recordAudit. */
export async function recordAuditBatch(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  entries: AuditBatchEntry[],
): Promise<void> {
  if (entries.length) changedOnCommit(t, tenantId);
  for (let i = 0; i < entries.length; i += 2000) {
    const chunk = entries.slice(i, i + 2000);
    // Named SQL: one set-based insert from unnest per 2,000 events (bulk enrolment writes 10,000).
    await exec(
      store,
      `INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, before, after, request_id)
       SELECT $1, $2, a, tt, ti, b::jsonb, af::jsonb, $3 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS x (a, tt, ti, b, af)`,
      [
        tenantId,
        ctx.actor,
        ctx.requestId ?? null,
        chunk.map((e) => e.action),
        chunk.map((e) => e.targetType),
        chunk.map((e) => e.targetId),
        chunk.map((e) => (e.before === undefined || e.before === null ? null : JSON.stringify(e.before))),
        chunk.map((e) => (e.after === undefined || e.after === null ? null : JSON.stringify(e.after))),
      ],
      t,
    );
  }
}

/**
 * GET /audit: filtered by course, person, actor, action and time. Privilege events target
 * `course_person` "<course>/<person>", so course and person filters match either half.
 */
export async function listAudit(
  store: Store,
  q: {
    tenantId: string;
    course?: string;
    person?: string;
    actor?: string;
    action?: string;
    since?: Date;
    until?: Date;
    before?: number;
    limit?: number;
  },
) {
  for (const [name, v] of [
    ['course', q.course],
    ['person', q.person],
  ] as const) {
    if (v !== undefined && !UUID.test(v)) throw new ValidationError(`${name}: an id`);
  }
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
  const or = (...alternatives: WhereOptions<AuditEvent>[]) => ({ [Op.or]: alternatives });
  const where: WhereOptions<AuditEvent>[] = [{ tenantId: q.tenantId }];
  if (q.course !== undefined)
    where.push(
      or(
        { targetType: ['course_person', 'course_group'], targetId: { [Op.like]: `${q.course}/%` } },
        { targetType: 'course', targetId: q.course },
      ),
    );
  if (q.person !== undefined)
    where.push(
      or(
        { targetType: 'course_person', targetId: { [Op.like]: `%/${q.person}` } },
        { targetType: 'person', targetId: q.person },
      ),
    );
  if (q.actor !== undefined) where.push({ actor: q.actor });
  if (q.action !== undefined) where.push({ action: q.action });
  if (q.since !== undefined) where.push({ at: { [Op.gte]: q.since } });
  if (q.until !== undefined) where.push({ at: { [Op.lt]: q.until } });
  if (q.before !== undefined && Number.isFinite(q.before)) where.push({ id: { [Op.lt]: q.before } });
  const rows = await store.models.AuditEvent.findAll({
    attributes: ['id', 'at', 'actor', 'action', 'targetType', 'targetId', 'before', 'after', 'requestId'],
    where: { [Op.and]: where },
    order: [['id', 'DESC']],
    limit: limit + 1,
    raw: true,
  });
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      actor: r.actor,
      action: r.action,
      targetType: r.targetType,
      targetId: r.targetId,
      before: r.before,
      after: r.after,
      requestId: r.requestId,
    })),
    next: rows.length > limit ? page[page.length - 1].id : null,
  };
}
