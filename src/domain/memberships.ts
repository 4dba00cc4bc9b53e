import type { Transaction } from 'sequelize';
import { z } from 'zod';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { recordAudit } from './audit.js';
import { getCourse } from './courses.js';
import type { InviteSettings } from './invitations.js';
import { resolvePersonRef, type PersonSummary } from './person-reference.js';
import {
  assertHolds,
  assertManagerRemains,
  effectiveOne,
  managers,
  MANAGE,
  normalizeRoles,
  roleDefaults,
  type Principal,
} from './privileges/index.js';
import { select } from '../db/sql.js';
import { changedOnCommit } from './change-signal.js';
import { parseInput } from './validate.js';

/** Roles per person per course: from the API, from LTI launches (lti/ writes the same table) and from bulk. */
export interface MembershipView {
  personId: string;
  roles: string[];
  status: 'active' | 'inactive';
  source: string;
  person?: PersonSummary;
}

export const membershipInput = z
  .object({
    roles: z.array(z.string().min(1).max(300)).min(1, 'roles: at least one role').max(20),
    status: z.enum(['active', 'inactive']).default('active'),
  })
  .strict();

interface Row {
  person_id: string;
  roles: string[];
  status: 'active' | 'inactive';
  source: string;
}

export async function getMembership(
  store: Store,
  tenantId: string,
  courseId: string,
  personId: string,
  t?: Transaction,
): Promise<Row | null> {
  const [row] = await select<Row>(
    store,
    'SELECT person_id, roles, status, source FROM course_memberships WHERE tenant_id = $1 AND course_id = $2 AND person_id = $3',
    [tenantId, courseId, personId],
    t,
  );
  return row ?? null;
}

export async function listMemberships(store: Store, tenantId: string, courseId: string): Promise<MembershipView[]> {
  const rows = await select<
    Row & {
      user_name: string | null;
      primary_email: string | null;
      display_name: string | null;
      external_id: string | null;
      pstatus: string;
    }
  >(
    store,
    `SELECT m.person_id, m.roles, m.status, m.source, p.user_name, p.primary_email, p.display_name, p.external_id, p.status AS pstatus
       FROM course_memberships m JOIN people p ON p.id = m.person_id
      WHERE m.tenant_id = $1 AND m.course_id = $2 ORDER BY p.display_name NULLS LAST, p.primary_email, m.person_id LIMIT 10000`,
    [tenantId, courseId],
  );
  return rows.map((r) => ({
    personId: r.person_id,
    roles: r.roles,
    status: r.status,
    source: r.source,
    person: {
      id: r.person_id,
      status: r.pstatus,
      userName: r.user_name,
      externalId: r.external_id,
      primaryEmail: r.primary_email,
      displayName: r.display_name,
    },
  }));
}

/** Privileges a set of roles implies by the tenant's defaults (a course admin may only hand out what they hold). */
async function impliedBy(store: Store, tenantId: string, roles: string[], t: Transaction): Promise<string[]> {
  const defaults = await roleDefaults(store, tenantId, t);
  return [...new Set(roles.flatMap((r) => defaults[r] ?? []))];
}

/** Session callers need members.manage to change memberships. */
async function heldForMembership(
  store: Store,
  principal: Principal,
  courseId: string,
  t: Transaction,
): Promise<Set<string> | null> {
  if (principal.kind === 'admin') return null;
  const held = new Set((await effectiveOne(store, principal.tenantId, courseId, principal.personId, t)).effective);
  if (!held.has('members.manage')) throw new ForbiddenError('You need members.manage in this course');
  return held;
}

export async function setMembership(
  store: Store,
  principal: Principal,
  ctx: ActorContext,
  input: { courseRef: string; personRef: string; body: unknown },
  invite?: InviteSettings,
): Promise<{ membership: MembershipView; personCreated: boolean }> {
  const tenantId = principal.tenantId;
  const data = parseInput(membershipInput, input.body);
  return inTransaction(store, async (t) => {
    const course = await getCourse(store, tenantId, input.courseRef, t);
    const roles = await normalizeRoles(store, tenantId, data.roles, t);
    const held = await heldForMembership(store, principal, course.id, t);
    assertHolds(held, await impliedBy(store, tenantId, roles, t));
    // An actor without privileges.manage: count the holders now, to tell "removed the last" from "there was none".
    const managersBefore =
      held && !held.has(MANAGE) ? (await managers(store, tenantId, course.id, t)).length : undefined;
    const { person, created } = await resolvePersonRef(store, t, ctx, tenantId, input.personRef, {
      create: true,
      invite,
      courseId: course.id,
    });
    const before = await getMembership(store, tenantId, course.id, person.id, t);
    const [after] = await select<Row>(
      store,
      `INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source) VALUES ($1, $2, $3, $4::text[], $5, 'api')
       ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = EXCLUDED.status, updated_at = now()
       RETURNING person_id, roles, status, source`,
      [tenantId, course.id, person.id, roles, data.status],
      t,
    );
    if (!before || before.status !== after.status || before.roles.join() !== after.roles.join()) {
      await recordAudit(store, t, ctx, {
        tenantId,
        action: 'membership.set',
        targetType: 'course_person',
        targetId: `${course.id}/${person.id}`,
        before: before
          ? { courseId: course.id, personId: person.id, roles: before.roles, status: before.status }
          : null,
        after: { courseId: course.id, personId: person.id, roles: after.roles, status: after.status },
      });
      changedOnCommit(t, tenantId);
    }
    await assertManagerRemains(store, principal, course.id, t, managersBefore);
    return {
      membership: { personId: person.id, roles: after.roles, status: after.status, source: after.source, person },
      personCreated: created,
    };
  });
}

export async function removeMembership(
  store: Store,
  principal: Principal,
  ctx: ActorContext,
  courseRef: string,
  personRef: string,
): Promise<void> {
  const tenantId = principal.tenantId;
  await inTransaction(store, async (t) => {
    const course = await getCourse(store, tenantId, courseRef, t);
    const held = await heldForMembership(store, principal, course.id, t);
    // An actor without privileges.manage: count the holders now, to tell "removed the last" from "there was none".
    const managersBefore =
      held && !held.has(MANAGE) ? (await managers(store, tenantId, course.id, t)).length : undefined;
    const { person } = await resolvePersonRef(store, t, ctx, tenantId, personRef, { create: false });
    const before = await getMembership(store, tenantId, course.id, person.id, t);
    if (!before) throw new NotFoundError('This person has no membership in the course');
    await select(
      store,
      'DELETE FROM course_memberships WHERE tenant_id = $1 AND course_id = $2 AND person_id = $3 RETURNING id',
      [tenantId, course.id, person.id],
      t,
    );
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'membership.remove',
      targetType: 'course_person',
      targetId: `${course.id}/${person.id}`,
      before: { courseId: course.id, personId: person.id, roles: before.roles, status: before.status },
      after: null,
    });
    changedOnCommit(t, tenantId);
    await assertManagerRemains(store, principal, course.id, t, managersBefore);
  });
}
