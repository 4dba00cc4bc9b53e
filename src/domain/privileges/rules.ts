import type { Transaction } from 'sequelize';
import type { Store } from '../../db/store.js';
import { AppError, ForbiddenError } from '../../errors.js';
import { MANAGE } from './catalogue.js';
import { effectiveOne, managers } from './decisions.js';

/* Course-admin rules: what a course admin's LTI session may change; tenant admins are exempt. */

/** Who calls: a tenant admin token (exempt from course rules) or a course admin's LTI session. */
export type Principal =
  | { kind: 'admin'; tenantId: string; tokenId: string }
  | { kind: 'session'; tenantId: string; personId: string; courseId: string | null; roles: string[] };

export const principalActor = (p: Principal): string =>
  p.kind === 'admin' ? `token:${p.tokenId}` : `person:${p.personId}`;

/** For a course admin: the privileges they hold in the course; throws 403 without privileges.manage. Tenant admins: null (exempt). */
export async function assertCanManage(
  store: Store,
  principal: Principal,
  courseId: string,
  t?: Transaction,
): Promise<Set<string> | null> {
  if (principal.kind === 'admin') return null;
  const held = new Set((await effectiveOne(store, principal.tenantId, courseId, principal.personId, t)).effective);
  if (!held.has(MANAGE)) throw new ForbiddenError(`You need ${MANAGE} in this course`);
  return held;
}

export function assertHolds(held: Set<string> | null, privileges: Iterable<string>): void {
  if (!held) return;
  const missing = [...new Set(privileges)].filter((p) => !held.has(p));
  if (missing.length)
    throw new ForbiddenError(`You cannot grant or deny privileges you do not hold: ${missing.join(', ')}`, {
      details: { missing },
    });
}

/**
 * Run after a course admin's change, inside its transaction: someone must still hold
 * privileges.manage. `before` is the number of holders before the change when the actor was not
 * one of them; when the actor held it (every privileges change), there was at least one. Cheap in
 * the common case: the actor still holds it.
 */
export async function assertManagerRemains(
  store: Store,
  principal: Principal,
  courseId: string,
  t: Transaction,
  before?: number,
): Promise<void> {
  if (principal.kind === 'admin' || before === 0) return;
  const actor = await effectiveOne(store, principal.tenantId, courseId, principal.personId, t);
  if (actor.effective.includes(MANAGE)) return;
  if ((await managers(store, principal.tenantId, courseId, t)).length === 0) {
    throw new AppError('conflict', `This change would remove the last holder of ${MANAGE} in the course`);
  }
}
