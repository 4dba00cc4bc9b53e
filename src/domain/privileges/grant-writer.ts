import type { InferAttributes, Model, ModelStatic, Transaction } from 'sequelize';
import type { ActorContext, Store } from '../../db/store.js';
import { NotFoundError } from '../../errors.js';
import { recordAuditBatch, type AuditBatchEntry } from '../audit.js';
import { emitPrivilegesChanged } from '../events.js';
import { changedOnCommit } from '../change-signal.js';
import { advisoryLocks } from '../locks.js';
import type { PrivilegeGrant } from '../privilege-models.js';
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
 * `refs` up front. Reads and writes go through the grant models (docs/decisions/0004).
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

/** Per subject kind: the grant model's subject attribute and the audit vocabulary. */
const SUBJECT = {
  person: { idField: 'personId', action: 'privileges.set', targetType: 'course_person' },
  group: { idField: 'groupId', action: 'group_privileges.set', targetType: 'course_group' },
} as const;

/**
 * The subject and grant models of a kind. PrivilegeGrant and GroupPrivilegeGrant differ only in
 * their subject column, so the writer treats them as one shape; the casts stay in this function.
 */
function modelsOf(store: Store, kind: GrantSubjectKind) {
  const m = store.models;
  return kind === 'person'
    ? { subjects: m.Person as SubjectModel, grants: m.PrivilegeGrant as unknown as GrantModel }
    : { subjects: m.Group as unknown as SubjectModel, grants: m.GroupPrivilegeGrant as unknown as GrantModel };
}
type SubjectModel = ModelStatic<Model<{ id: string; tenantId: string; deletedAt?: Date | null }>>;
type GrantModel = ModelStatic<Model<GrantAttributes>>;
type GrantAttributes = Omit<InferAttributes<PrivilegeGrant>, 'personId'> & { personId?: string; groupId?: string };

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

  const { grants, subjects } = modelsOf(store, kind);

  const present = (await subjects.findAll({
    attributes: ['id'],
    where: { tenantId, id: ids, ...(kind === 'group' ? { deletedAt: null } : {}) },
    order: [['id', 'ASC']],
    lock: t.LOCK.KEY_SHARE,
    transaction: t,
    raw: true,
  })) as unknown as Array<{ id: string }>;
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
  const current = (await grants.findAll({
    attributes: ['id', s.idField, 'privilege', 'effect'],
    where: { tenantId, courseId, [s.idField]: ids },
    order: [
      [s.idField, 'ASC'],
      ['privilege', 'ASC'],
    ],
    lock: t.LOCK.UPDATE,
    transaction: t,
    raw: true,
  })) as unknown as Array<GrantRow & Record<typeof s.idField, string>>;
  const bySubject = new Map<string, GrantRow[]>(ids.map((id) => [id, []]));
  for (const row of current) {
    bySubject.get(row[s.idField])!.push({ id: row.id, privilege: row.privilege, effect: row.effect });
  }

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

  if (del.length) await grants.destroy({ where: { id: del }, transaction: t });
  // One UPDATE per effect (at most two), not one per row.
  for (const effect of ['allow', 'deny'] as const) {
    const flipIds = flip.filter((f) => f.effect === effect).map((f) => f.id);
    if (flipIds.length) {
      await grants.update(
        { effect, grantedBy: ctx.actor, updatedAt: new Date() },
        { where: { id: flipIds }, transaction: t },
      );
    }
  }
  if (add.length) {
    await grants.bulkCreate(
      add.map((a) => ({
        tenantId,
        courseId,
        [s.idField]: a.subjectId,
        privilege: a.privilege,
        effect: a.effect,
        grantedBy: ctx.actor,
      })) as never,
      { transaction: t, returning: false, validate: false },
    );
  }
  if (audits.length) {
    await recordAuditBatch(store, t, ctx, tenantId, audits);
    await emitPrivilegesChanged(store, t, tenantId, kind, audits, ctx.actor);
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
  const { Person, PrivilegeGrant } = store.models;
  await Person.findAll({
    attributes: ['id'],
    where: { tenantId, id: personId },
    lock: t.LOCK.KEY_SHARE,
    transaction: t,
    raw: true,
  });
  const courses = await PrivilegeGrant.findAll({
    attributes: ['courseId'],
    where: { tenantId, personId },
    group: ['courseId'],
    order: [['courseId', 'ASC']],
    transaction: t,
    raw: true,
  });
  await advisoryLocks(
    store,
    t,
    'grants',
    courses.map((c) => grantLockKey('person', tenantId, c.courseId, personId)),
  );
  const rows = await PrivilegeGrant.findAll({
    attributes: ['id', 'courseId', 'privilege', 'effect'],
    where: { tenantId, personId },
    lock: t.LOCK.UPDATE,
    transaction: t,
    raw: true,
  });
  if (rows.length) await PrivilegeGrant.destroy({ where: { id: rows.map((r) => r.id) }, transaction: t });
  const byCourse = new Map<string, Array<{ privilege: string; effect: Effect }>>();
  for (const r of rows) {
    let list = byCourse.get(r.courseId);
    if (!list) byCourse.set(r.courseId, (list = []));
    list.push(r);
  }
  const revoked = [...byCourse].map(([courseId, list]) => ({
    action: 'privileges.revoke_all',
    targetType: 'course_person',
    targetId: `${courseId}/${personId}`,
    before: { courseId, personId, ...grantAuditView(list) },
    after: { courseId, personId, allow: [], deny: [] },
  }));
  await recordAuditBatch(store, t, ctx, tenantId, revoked);
  await emitPrivilegesChanged(store, t, tenantId, 'person', revoked, ctx.actor);
  if (rows.length) changedOnCommit(t, tenantId);
  return rows.length;
}
