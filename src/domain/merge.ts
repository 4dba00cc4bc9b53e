import type { Transaction } from 'sequelize';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { recordAudit } from './audit.js';
import { exec, select } from '../db/sql.js';
import { changedOnCommit } from './change-signal.js';
import { UUID } from '../ids.js';

/**
 * A tenant admin merges a placeholder into the real person when no door could link them (an
 * untrusted email, a typo in a school id). Grants move (on a clash deny wins), memberships move
 * (roles are united), group memberships move, open invitations are revoked, and the placeholder is
 * kept as `merged` with merged_into so references to its id still resolve.
 */
export async function mergeInTransaction(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  fromId: string,
  intoId: string,
) {
  if (!UUID.test(fromId) || !UUID.test(intoId)) throw new ValidationError('from and into must be person ids');
  if (fromId === intoId) throw new ValidationError('A person cannot be merged into themselves');
  const people = await select<{ id: string; status: string }>(
    store,
    'SELECT id, status FROM people WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NULL ORDER BY id FOR UPDATE',
    [tenantId, [fromId, intoId]],
    t,
  );
  const from = people.find((p) => p.id === fromId);
  const into = people.find((p) => p.id === intoId);
  if (!from) throw new NotFoundError(`No person ${fromId} in this tenant`);
  if (!into) throw new NotFoundError(`No person ${intoId} in this tenant`);
  if (from.status !== 'invited')
    throw new ConflictError(`Only invited placeholders can be merged; ${fromId} is ${from.status}`);
  if (into.status === 'merged' || into.status === 'deprovisioned')
    throw new ConflictError(`Cannot merge into a person who is ${into.status}`);

  const before = {
    grants: await select(
      store,
      'SELECT course_id, privilege, effect FROM privilege_grants WHERE tenant_id = $1 AND person_id = $2 ORDER BY course_id, privilege',
      [tenantId, fromId],
      t,
    ),
    memberships: await select(
      store,
      'SELECT course_id, roles FROM course_memberships WHERE tenant_id = $1 AND person_id = $2 ORDER BY course_id',
      [tenantId, fromId],
      t,
    ),
  };
  const b = [tenantId, fromId, intoId];
  // Grants: deny wins where both hold a row for the same (course, privilege); the rest move over.
  await exec(
    store,
    `UPDATE privilege_grants i SET effect = 'deny', granted_by = $4, updated_at = now() FROM privilege_grants f
      WHERE f.tenant_id = $1 AND f.person_id = $2 AND i.tenant_id = $1 AND i.person_id = $3
        AND i.course_id = f.course_id AND i.privilege = f.privilege AND f.effect = 'deny' AND i.effect = 'allow'`,
    [...b, ctx.actor],
    t,
  );
  await exec(
    store,
    `DELETE FROM privilege_grants f USING privilege_grants i
      WHERE f.tenant_id = $1 AND f.person_id = $2 AND i.tenant_id = $1 AND i.person_id = $3 AND i.course_id = f.course_id AND i.privilege = f.privilege`,
    b,
    t,
  );
  await exec(
    store,
    'UPDATE privilege_grants SET person_id = $3, updated_at = now() WHERE tenant_id = $1 AND person_id = $2',
    b,
    t,
  );
  // Memberships: unite roles where both are enrolled, move the rest.
  await exec(
    store,
    `UPDATE course_memberships i SET roles = ARRAY(SELECT DISTINCT unnest(i.roles || f.roles) ORDER BY 1), updated_at = now() FROM course_memberships f
      WHERE f.tenant_id = $1 AND f.person_id = $2 AND i.tenant_id = $1 AND i.person_id = $3 AND i.course_id = f.course_id`,
    b,
    t,
  );
  await exec(
    store,
    `DELETE FROM course_memberships f USING course_memberships i
      WHERE f.tenant_id = $1 AND f.person_id = $2 AND i.tenant_id = $1 AND i.person_id = $3 AND i.course_id = f.course_id`,
    b,
    t,
  );
  await exec(
    store,
    'UPDATE course_memberships SET person_id = $3, updated_at = now() WHERE tenant_id = $1 AND person_id = $2',
    b,
    t,
  );
  await exec(
    store,
    `DELETE FROM group_members f USING group_members i
      WHERE f.tenant_id = $1 AND f.member_type = 'person' AND f.member_id = $2 AND i.tenant_id = $1 AND i.member_type = 'person' AND i.member_id = $3 AND i.group_id = f.group_id`,
    b,
    t,
  );
  await exec(
    store,
    "UPDATE group_members SET member_id = $3 WHERE tenant_id = $1 AND member_type = 'person' AND member_id = $2",
    b,
    t,
  );
  await exec(
    store,
    "UPDATE invitations SET status = 'revoked' WHERE tenant_id = $1 AND person_id = $2 AND status = 'pending'",
    [tenantId, fromId],
    t,
  );
  await exec(
    store,
    "UPDATE people SET status = 'merged', merged_into = $3, version = version + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2",
    b,
    t,
  );
  await recordAudit(store, t, ctx, {
    tenantId,
    action: 'person.merge',
    targetType: 'person',
    targetId: fromId,
    before: { id: fromId, status: from.status, ...before },
    after: { id: fromId, status: 'merged', mergedInto: intoId },
  });
  changedOnCommit(t, tenantId);
  return { from: fromId, into: intoId, movedGrants: before.grants.length, movedMemberships: before.memberships.length };
}

export function mergePeople(store: Store, ctx: ActorContext, tenantId: string, fromId: string, intoId: string) {
  return inTransaction(store, (t) => mergeInTransaction(store, t, ctx, tenantId, fromId, intoId));
}
