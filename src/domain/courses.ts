import type { InferAttributes, Transaction } from 'sequelize';
import { z } from 'zod';
import { inTransaction, isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { recordAudit } from './audit.js';
import { select } from '../db/sql.js';
import { UUID } from '../ids.js';
import type { Course } from './courses-models.js';
import { parseInput } from './validate.js';

/**
 * Courses of the API. LTI launches upsert the same table through src/domain/launch-course.ts; a course
 * can exist (with its SIS key) long before anyone launches into it.
 */
export interface CourseView {
  id: string;
  title: string;
  externalKey: string | null;
  ltiContextId: string | null;
  createdAt: string;
}

type CourseAttrs = Pick<InferAttributes<Course>, 'id' | 'title' | 'externalKey' | 'ltiContextId' | 'createdAt'>;
const VIEW_ATTRS = ['id', 'title', 'externalKey', 'ltiContextId', 'createdAt'] as const;
const view = (c: CourseAttrs): CourseView => ({
  id: c.id,
  title: c.title,
  externalKey: c.externalKey,
  ltiContextId: c.ltiContextId,
  createdAt: new Date(c.createdAt).toISOString(),
});

export const courseInput = z
  .object({
    title: z.string().trim().min(1, 'title must not be empty').max(300),
    externalKey: z.string().trim().min(1).max(200).nullable().optional(),
  })
  .strict();

export async function createCourse(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  input: unknown,
): Promise<CourseView> {
  const data = parseInput(courseInput, input);
  try {
    return await inTransaction(store, async (t) => {
      const row = await store.models.Course.create(
        { tenantId, title: data.title, externalKey: data.externalKey ?? null },
        { transaction: t },
      );
      const course = view(row);
      await recordAudit(store, t, ctx, {
        tenantId,
        action: 'course.create',
        targetType: 'course',
        targetId: course.id,
        after: course,
      });
      return course;
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError(`A course with external key "${data.externalKey}" already exists`);
    throw err;
  }
}

/** A course by id, or `key:<SIS key>`; a course of another tenant is simply not found. */
export async function getCourse(store: Store, tenantId: string, ref: string, t?: Transaction): Promise<CourseView> {
  const byKey = ref.startsWith('key:');
  if (!byKey && !UUID.test(ref)) throw new NotFoundError(`No course ${ref}`);
  const row = await store.models.Course.findOne({
    attributes: [...VIEW_ATTRS],
    where: { tenantId, deletedAt: null, ...(byKey ? { externalKey: ref.slice(4) } : { id: ref }) },
    transaction: t,
    raw: true,
  });
  if (!row) throw new NotFoundError(`No course ${ref} in this tenant`);
  return view(row);
}

export async function listCourses(
  store: Store,
  tenantId: string,
  opts: { q?: string; limit?: number; after?: string } = {},
) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 200);
  // Named SQL: a keyset page on the row value (lower(title), id), which the model API cannot compare.
  const rows = await select<CourseAttrs & { sort_title: string }>(
    store,
    `SELECT id, title, external_key AS "externalKey", lti_context_id AS "ltiContextId", created_at AS "createdAt",
            lower(title) AS sort_title FROM courses
      WHERE tenant_id = $1 AND deleted_at IS NULL
        AND ($2::text IS NULL OR lower(title) LIKE $2 OR lower(external_key) LIKE $2)
        AND ($3::text IS NULL OR (lower(title), id::text) > ($4::text, $3::text))
      ORDER BY lower(title), id LIMIT $5`,
    [
      tenantId,
      opts.q ? `%${likeEscape(opts.q.toLowerCase())}%` : null,
      opts.after ? decodeCursor(opts.after)[1] : null,
      opts.after ? decodeCursor(opts.after)[0] : null,
      limit + 1,
    ],
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(view), next: rows.length > limit && last ? encodeCursor([last.sort_title, last.id]) : null };
}

export const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
export const encodeCursor = (parts: string[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
export function decodeCursor(cursor: string): string[] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    /* fall through */
  }
  throw new ValidationError('Invalid cursor');
}

export const courseUpdate = z
  .object({
    title: z.string().trim().min(1, 'title must not be empty').max(300).optional(),
    externalKey: z.string().trim().min(1).max(200).nullable().optional(),
  })
  .strict();

/** PATCH: title and/or SIS key; audited with before/after. */
export async function updateCourse(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  ref: string,
  input: unknown,
): Promise<CourseView> {
  const data = parseInput(courseUpdate, input);
  try {
    return await inTransaction(store, async (t) => {
      const before = await getCourse(store, tenantId, ref, t);
      const [, [row]] = await store.models.Course.update(
        {
          ...(data.title !== undefined ? { title: data.title } : {}),
          ...(data.externalKey !== undefined ? { externalKey: data.externalKey } : {}),
          updatedAt: new Date(),
        },
        { where: { tenantId, id: before.id }, returning: true, transaction: t },
      );
      const after = view(row);
      await recordAudit(store, t, ctx, {
        tenantId,
        action: 'course.update',
        targetType: 'course',
        targetId: after.id,
        before,
        after,
      });
      return after;
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError(`A course with external key "${data.externalKey}" already exists`);
    throw err;
  }
}

/** DELETE: soft delete. Grants and memberships stay in the database (and in the audit trail) but the course is gone from the API. */
export async function deleteCourse(store: Store, ctx: ActorContext, tenantId: string, ref: string): Promise<void> {
  await inTransaction(store, async (t) => {
    const before = await getCourse(store, tenantId, ref, t);
    const now = new Date();
    await store.models.Course.update(
      { deletedAt: now, updatedAt: now },
      { where: { tenantId, id: before.id }, transaction: t },
    );
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'course.delete',
      targetType: 'course',
      targetId: before.id,
      before,
      after: null,
    });
  });
}
