import type { Transaction } from 'sequelize';
import { exec, select } from '../../db/sql.js';
import type { ActorContext, Store } from '../../db/store.js';
import { NotFoundError } from '../../errors.js';
import { recordAuditBatch, type AuditBatchEntry } from '../audit.js';
import { changedOnCommit } from '../change-signal.js';
import { advisoryLocks } from '../locks.js';
import type { Effect } from './decisions.js';

/**
 * The one grant writer: person grants (API, CLI, bulk enrolment) and group grants go through
 * writeGrants. Its lock order, the one in locks.ts:
 *   1. (the caller's) `refs` advisory locks, when it resolves people by email/key;
 *   2. the subject rows (people or groups) FOR KEY SHARE, sorted by id: the subjects exist and
 *      stay (a merge or a SCIM delete holding FOR UPDATE finishes first), while launches and
 *      profile updates, which take weaker row locks, are not held up;
 *   3. `grants` advisory stripes of every (course, subject) written, in one sorted call: two
 *      writers of the same subject queue here instead of racing to insert the same row;
 *   4. the subjects' grant rows FOR UPDATE, then one DELETE, one UPDATE and one INSERT.
 * A single write (one person or one group) takes each step once, so it never waits on a bulk
 * while holding something the bulk needs; a bulk repeats steps 2-4 per chunk after taking all its
 * `refs` up front. The SQL stays in this file so it can be swapped for models in one place.
 */

export interface GrantRow {
  id: string;
  privilege: string;
  effect: Effect;
}
export interface GrantLists {
  allow: string[];
  deny: string[];
}
export type GrantSubjectKind = 'person' | 'group';
export interface GrantChange {
  before: GrantRow[];
  /** privileges whose rows were deleted, flipped or inserted */
  changed: string[];
}

/** Per subject kind: the tables and audit vocabulary. Constants only: no caller text reaches the SQL. */
const SUBJECT = {
  person: {
    subjects: 'people',
    live: '',
    grants: 'privilege_grants',
    column: 'person_id',
    idField: 'personId',
    action: 'privileges.set',
    targetType: 'course_person',
  },
  group: {
    subjects: 'groups',
    live: 'AND deleted_at IS NULL',
    grants: 'group_privilege_grants',
    column: 'group_id',
    idField: 'groupId',
    action: 'group_privileges.set',
    targetType: 'course_group',
  },
} as const;

export const grantLockKey = (kind: GrantSubjectKind, tenantId: string, courseId: string, subjectId: string) =>
  `${kind === 'person' ? 'grants' : 'group-grants'}:${tenantId}:${courseId}:${subjectId}`;

export const grantAuditView = (rows: Array<Pick<GrantRow, 'privilege' | 'effect'>>) => ({
  allow: rows
    .filter((r) => r.effect === 'allow')
    .map((r) => r.privilege)
    .sort(),
  deny: rows
    .filter((r) => r.effect === 'deny')
    .map((r) => r.privilege)
    .sort(),
});

/**
 * Makes each subject's grant rows in the course equal to its lists: unchanged rows are left alone
 * (same id, not rewritten), removed rows deleted, flipped rows updated, new rows inserted; one
 * audit event per subject whose rows changed. Groups must exist (404 otherwise); people are not
 * checked here (the foreign key refuses an unknown one). Returns, per subject id, the rows before
 * and the privileges whose rows changed.
 */
export async function writeGrants(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  target: { tenantId: string; courseId: string; kind: GrantSubjectKind },
  writes: Array<{ subjectId: string; lists: GrantLists }>,
): Promise<Map<string, GrantChange>> {
  const { tenantId, courseId, kind } = target;
  const s = SUBJECT[kind];
  const out = new Map<string, GrantChange>();
  if (!writes.length) return out;
  const ids = [...new Set(writes.map((w) => w.subjectId))].sort();

  const present = await select<{ id: string }>(
    store,
    `SELECT id FROM ${s.subjects} WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ${s.live} ORDER BY id FOR KEY SHARE`,
    [tenantId, ids],
    t,
  );
  if (kind === 'group' && present.length < ids.length) {
    const found = new Set(present.map((r) => r.id));
    throw new NotFoundError(`No group ${ids.find((id) => !found.has(id))} in this tenant`);
  }
  await advisoryLocks(
    store,
    t,
    'grants',
    ids.map((id) => grantLockKey(kind, tenantId, courseId, id)),
  );
  const current = await select<GrantRow & { subject_id: string }>(
    store,
    `SELECT id, ${s.column} AS subject_id, privilege, effect FROM ${s.grants}
      WHERE tenant_id = $1 AND course_id = $2 AND ${s.column} = ANY($3::uuid[]) ORDER BY ${s.column}, privilege FOR UPDATE`,
    [tenantId, courseId, ids],
    t,
  );
  const bySubject = new Map<string, GrantRow[]>(ids.map((id) => [id, []]));
  for (const { subject_id, ...row } of current) bySubject.get(subject_id)!.push(row);

  const del: string[] = [];
  const flip: Array<{ id: string; effect: Effect }> = [];
  const add: Array<{ subjectId: string; privilege: string; effect: Effect }> = [];
  const audits: AuditBatchEntry[] = [];
  for (const { subjectId, lists } of writes) {
    const before = bySubject.get(subjectId)!;
    const want = new Map<string, Effect>([
      ...lists.allow.map((p) => [p, 'allow'] as const),
      ...lists.deny.map((p) => [p, 'deny'] as const),
    ]);
    const have = new Set(before.map((r) => r.privilege));
    const removed = before.filter((r) => !want.has(r.privilege));
    const flipped = before.filter((r) => want.has(r.privilege) && want.get(r.privilege) !== r.effect);
    const added = [...want].filter(([p]) => !have.has(p));
    del.push(...removed.map((r) => r.id));
    flip.push(...flipped.map((r) => ({ id: r.id, effect: want.get(r.privilege)! })));
    add.push(...added.map(([privilege, effect]) => ({ subjectId, privilege, effect })));
    const changed = [...removed, ...flipped].map((r) => r.privilege).concat(added.map(([p]) => p));
    out.set(subjectId, { before, changed });
    if (changed.length) {
      audits.push({
        action: s.action,
        targetType: s.targetType,
        targetId: `${courseId}/${subjectId}`,
        before: { courseId, [s.idField]: subjectId, ...grantAuditView(before) },
        after: { courseId, [s.idField]: subjectId, allow: [...lists.allow].sort(), deny: [...lists.deny].sort() },
      });
    }
  }

  if (del.length) await exec(store, `DELETE FROM ${s.grants} WHERE id = ANY($1::uuid[])`, [del], t);
  if (flip.length) {
    await exec(
      store,
      `UPDATE ${s.grants} g SET effect = x.e, granted_by = $3, updated_at = now()
         FROM unnest($1::uuid[], $2::text[]) AS x (id, e) WHERE g.id = x.id`,
      [flip.map((f) => f.id), flip.map((f) => f.effect), ctx.actor],
      t,
    );
  }
  if (add.length) {
    await exec(
      store,
      `INSERT INTO ${s.grants} (tenant_id, course_id, ${s.column}, privilege, effect, granted_by)
       SELECT $1, $2, x.s, x.p, x.e, $6 FROM unnest($3::uuid[], $4::text[], $5::text[]) AS x (s, p, e)`,
      [
        tenantId,
        courseId,
        add.map((a) => a.subjectId),
        add.map((a) => a.privilege),
        add.map((a) => a.effect),
        ctx.actor,
      ],
      t,
    );
  }
  if (audits.length) {
    await recordAuditBatch(store, t, ctx, tenantId, audits);
    changedOnCommit(t, tenantId);
  }
  return out;
}

/** One person's grants in one course through writeGrants. */
export async function replaceGrants(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  target: { tenantId: string; courseId: string; personId: string },
  lists: GrantLists,
): Promise<GrantChange> {
  const { tenantId, courseId, personId } = target;
  const changes = await writeGrants(store, t, ctx, { tenantId, courseId, kind: 'person' }, [
    { subjectId: personId, lists },
  ]);
  return changes.get(personId)!;
}

/** One group's grants in one course through writeGrants; 404 when the group is not live in the tenant. */
export async function replaceGroupGrants(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  target: { tenantId: string; courseId: string; groupId: string },
  lists: GrantLists,
): Promise<GrantChange> {
  const { tenantId, courseId, groupId } = target;
  const changes = await writeGrants(store, t, ctx, { tenantId, courseId, kind: 'group' }, [
    { subjectId: groupId, lists },
  ]);
  return changes.get(groupId)!;
}

/**
 * Removes every grant of a person in every course (SCIM DELETE User calls this), in the writer's
 * lock order: the person row, then the stripes of every course it has grants in. Memberships stay.
 */
export async function revokePersonGrants(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  personId: string,
): Promise<number> {
  await select(store, 'SELECT id FROM people WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE', [tenantId, personId], t);
  const courses = await select<{ course_id: string }>(
    store,
    'SELECT DISTINCT course_id FROM privilege_grants WHERE tenant_id = $1 AND person_id = $2',
    [tenantId, personId],
    t,
  );
  await advisoryLocks(
    store,
    t,
    'grants',
    courses.map((c) => grantLockKey('person', tenantId, c.course_id, personId)),
  );
  const rows = await select<{ course_id: string; privilege: string; effect: Effect }>(
    store,
    'DELETE FROM privilege_grants WHERE tenant_id = $1 AND person_id = $2 RETURNING course_id, privilege, effect',
    [tenantId, personId],
    t,
  );
  const byCourse = new Map<string, Array<{ privilege: string; effect: Effect }>>();
  for (const r of rows) {
    let list = byCourse.get(r.course_id);
    if (!list) byCourse.set(r.course_id, (list = []));
    list.push(r);
  }
  await recordAuditBatch(
    store,
    t,
    ctx,
    tenantId,
    [...byCourse].map(([courseId, list]) => ({
      action: 'privileges.revoke_all',
      targetType: 'course_person',
      targetId: `${courseId}/${personId}`,
      before: { courseId, personId, ...grantAuditView(list) },
      after: { courseId, personId, allow: [], deny: [] },
    })),
  );
  if (rows.length) changedOnCommit(t, tenantId);
  return rows.length;
}
