import { QueryTypes, type Transaction } from 'sequelize';
import type { ActorContext, Store } from '../db/store.js';
import { recordAudit } from './audit.js';
import { changedOnCommit } from './change-signal.js';

/**
 * The course a launch comes from: found by (tenant, platform, context.id); else a course created
 * earlier (by an admin or a roster) with a matching SIS key is adopted; else created. Then the
 * person's membership is upserted with the launch's roles (source 'lti'). Runs in the launch's
 * transaction.
 */
export interface LaunchCourseInput {
  tenantId: string;
  platformId: string;
  contextId: string;
  title?: string | null;
  label?: string | null;
  /** SIS keys from the launch, most specific first (lis.course_offering_sourcedid, …). */
  sisKeys: string[];
}

export interface LaunchCourse {
  courseId: string;
  outcome: 'existing' | 'adopted' | 'created';
}

export async function upsertLaunchCourse(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: LaunchCourseInput,
): Promise<LaunchCourse> {
  const { Course } = store.models;
  const byContext = () =>
    Course.findOne({
      where: {
        tenantId: input.tenantId,
        ltiPlatformId: input.platformId,
        ltiContextId: input.contextId,
        deletedAt: null,
      },
      attributes: ['id'],
      raw: true,
      transaction: t,
    });
  const found = await byContext();
  if (found) return { courseId: found.id, outcome: 'existing' };

  for (const key of input.sisKeys) {
    const adopted = await Course.findOne({
      where: { tenantId: input.tenantId, externalKey: key, ltiContextId: null, deletedAt: null },
      attributes: ['id', 'title'],
      lock: t.LOCK.UPDATE,
      raw: true,
      transaction: t,
    });
    if (adopted) {
      await Course.update(
        { ltiPlatformId: input.platformId, ltiContextId: input.contextId, updatedAt: store.sequelize.fn('now') },
        { where: { tenantId: input.tenantId, id: adopted.id }, transaction: t },
      );
      await recordAudit(store, t, ctx, {
        tenantId: input.tenantId,
        action: 'course.adopt',
        targetType: 'course',
        targetId: adopted.id,
        after: { platformId: input.platformId, contextId: input.contextId, externalKey: key },
      });
      changedOnCommit(t, input.tenantId);
      return { courseId: adopted.id, outcome: 'adopted' };
    }
  }

  const title = (input.title?.trim() || input.label?.trim() || `Course ${input.contextId}`).slice(0, 500);
  // Named SQL: a concurrent first launch of the same course may insert first (ON CONFLICT DO
  // NOTHING settles it without aborting the launch's transaction); then we use its row.
  const [created] = await store.sequelize.query<{ id: string }>(
    `INSERT INTO courses (tenant_id, title, lti_platform_id, lti_context_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, lti_platform_id, lti_context_id) WHERE deleted_at IS NULL AND lti_context_id IS NOT NULL DO NOTHING
     RETURNING id`,
    { bind: [input.tenantId, title, input.platformId, input.contextId], type: QueryTypes.SELECT, transaction: t },
  );
  if (!created) {
    const again = await byContext();
    return { courseId: again!.id, outcome: 'existing' };
  }
  await recordAudit(store, t, ctx, {
    tenantId: input.tenantId,
    action: 'course.create',
    targetType: 'course',
    targetId: created.id,
    after: { title, platformId: input.platformId, contextId: input.contextId, source: 'lti' },
  });
  changedOnCommit(t, input.tenantId);
  return { courseId: created.id, outcome: 'created' };
}

type MembershipBefore = { roles: string[]; status: string } | null;

/** A launch created or changed a membership: its audit event, and its tenant's change signal. */
async function membershipChanged(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  m: { tenantId: string; courseId: string; personId: string; roles: string[]; before: MembershipBefore },
): Promise<void> {
  await recordAudit(store, t, ctx, {
    tenantId: m.tenantId,
    action: m.before ? 'course_membership.update' : 'course_membership.create',
    targetType: 'course_membership',
    targetId: `${m.courseId}:${m.personId}`,
    before: m.before,
    after: { roles: m.roles, status: 'active', source: m.before ? undefined : 'lti' },
  });
  changedOnCommit(t, m.tenantId);
}

/** Upserts the membership with the launch's roles; audited only when something changed. */
export async function upsertLaunchMembership(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: { tenantId: string; courseId: string; personId: string; roles: string[] },
): Promise<{ changed: boolean }> {
  // Named SQL, one statement: the row as it was, and an upsert that writes only when roles or
  // status change (ON CONFLICT: concurrent launches of one person race here).
  const [r] = await store.sequelize.query<{ before: MembershipBefore; changed: number }>(
    `WITH old AS (
       SELECT roles, status FROM course_memberships WHERE tenant_id = $1 AND course_id = $2 AND person_id = $3
     ), up AS (
       INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source) VALUES ($1, $2, $3, $4, 'active', 'lti')
       ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = 'active', updated_at = now()
         WHERE course_memberships.roles IS DISTINCT FROM EXCLUDED.roles OR course_memberships.status <> 'active'
       RETURNING 1
     )
     SELECT (SELECT to_jsonb(old) FROM old) AS before, (SELECT count(*) FROM up)::int AS changed`,
    { bind: [input.tenantId, input.courseId, input.personId, input.roles], type: QueryTypes.SELECT, transaction: t },
  );
  if (r.changed === 0) return { changed: false };
  await membershipChanged(store, t, ctx, { ...input, before: r.before });
  return { changed: true };
}

/**
 * The common case in one statement: the launch's course already exists (found by platform +
 * context id); upsert the membership as upsertLaunchMembership does. Returns null when the course
 * is not known yet (the caller then adopts or creates it).
 */
export async function upsertKnownCourseMembership(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: { tenantId: string; platformId: string; contextId: string; personId: string; roles: string[] },
): Promise<{ courseId: string; changed: boolean } | null> {
  const [r] = await store.sequelize.query<{
    course_id: string | null;
    before: MembershipBefore;
    changed: number;
  }>(
    `WITH c AS (
       SELECT id FROM courses WHERE tenant_id = $1 AND lti_platform_id = $2 AND lti_context_id = $3 AND deleted_at IS NULL
     ), old AS (
       SELECT m.roles, m.status FROM course_memberships m JOIN c ON m.course_id = c.id WHERE m.tenant_id = $1 AND m.person_id = $4
     ), up AS (
       INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source) SELECT $1, c.id, $4, $5, 'active', 'lti' FROM c
       ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = 'active', updated_at = now()
         WHERE course_memberships.roles IS DISTINCT FROM EXCLUDED.roles OR course_memberships.status <> 'active'
       RETURNING 1
     )
     SELECT (SELECT id FROM c) AS course_id, (SELECT to_jsonb(old) FROM old) AS before, (SELECT count(*) FROM up)::int AS changed`,
    {
      bind: [input.tenantId, input.platformId, input.contextId, input.personId, input.roles],
      type: QueryTypes.SELECT,
      transaction: t,
    },
  );
  if (!r.course_id) return null;
  if (r.changed > 0) await membershipChanged(store, t, ctx, { ...input, courseId: r.course_id, before: r.before });
  return { courseId: r.course_id, changed: r.changed > 0 };
}
