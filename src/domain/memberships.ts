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
  personId: string;
  roles: string[];
  status: 'active' | 'inactive';
  source: string;
}
const ROW_ATTRS = ['personId', 'roles', 'status', 'source'] as const;

export async function getMembership(
  store: Store,
  tenantId: string,
  courseId: string,
  personId: string,
  t?: Transaction,
): Promise<Row | null> {
  return store.models.CourseMembership.findOne({
    attributes: [...ROW_ATTRS],
    where: { tenantId, courseId, personId },
    transaction: t,
    raw: true,
  });
}

export async function listMemberships(store: Store, tenantId: string, courseId: string): Promise<MembershipView[]> {
  const { CourseMembership, Person } = store.models;
  const person = { model: Person, as: 'person' };
  // raw + nest: the values only, the person under `person` (one INNER JOIN, as the SQL had).
  const rows = (await CourseMembership.findAll({
    attributes: [...ROW_ATTRS],
    where: { tenantId, courseId },
    include: [
      {
        ...person,
        required: true,
        attributes: ['status', 'userName', 'externalId', 'primaryEmail', 'displayName'],
        where: { tenantId },
      },
    ],
    order: [
      [person, 'displayName', 'ASC NULLS LAST'],
      [person, 'primaryEmail', 'ASC'],
      ['personId', 'ASC'],
    ],
    limit: 10000,
    raw: true,
    nest: true,
  })) as unknown as Array<Row & { person: Omit<PersonSummary, 'id'> }>;
  return rows.map((r) => ({
    personId: r.personId,
    roles: r.roles,
    status: r.status,
    source: r.source,
    person: {
      id: r.personId,
      status: r.person.status,
      userName: r.person.userName,
      externalId: r.person.externalId,
      primaryEmail: r.person.primaryEmail,
      displayName: r.person.displayName,
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
    // Named SQL: an ON CONFLICT upsert, so two first writes of the same membership cannot race to insert.
    const [after] = await select<Row>(
      store,
      `INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source) VALUES ($1, $2, $3, $4::text[], $5, 'api')
       ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = EXCLUDED.status, updated_at = now()
       RETURNING person_id AS "personId", roles, status, source`,
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
    await store.models.CourseMembership.destroy({
      where: { tenantId, courseId: course.id, personId: person.id },
      transaction: t,
    });
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
