import type { Transaction } from 'sequelize';
import { z } from 'zod';
import { inTransaction, type ActorContext, type Store } from '../../db/store.js';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import { UUID } from '../../ids.js';
import { getCourse } from '../courses.js';
import type { InviteSettings } from '../invitations.js';
import { resolvePersonRef, type PersonSummary } from '../person-reference.js';
import { parseInput } from '../validate.js';
import { assertKnownPrivileges, MANAGE } from './catalogue.js';
import { coursePeopleIds, effectiveMany, effectiveOne, type Effect } from './decisions.js';
import { replaceGrants, replaceGroupGrants } from './grant-writer.js';
import { assertCanManage, assertHolds, assertManagerRemains, type Principal } from './rules.js';

/* The operations behind the privileges API and CLI: each one transaction, checks, one grant writer. */

export const grantListsInput = z
  .object({
    allow: z.array(z.string().min(1).max(100)).max(200).default([]),
    deny: z.array(z.string().min(1).max(100)).max(200).default([]),
  })
  .strict()
  .refine((v) => !v.allow.some((p) => v.deny.includes(p)), {
    message: 'a privilege cannot be both allowed and denied',
  });

export async function groupGrants(store: Store, tenantId: string, courseId: string, t?: Transaction) {
  const { GroupPrivilegeGrant, Group } = store.models;
  const group = { model: Group, as: 'group' };
  const rows = (await GroupPrivilegeGrant.findAll({
    attributes: ['groupId', 'privilege', 'effect'],
    where: { tenantId, courseId },
    include: [{ ...group, required: true, attributes: ['displayName'], where: { tenantId } }],
    order: [
      [group, 'displayName', 'ASC'],
      ['groupId', 'ASC'],
      ['privilege', 'ASC'],
    ],
    transaction: t,
    raw: true,
    nest: true,
  })) as unknown as Array<{ groupId: string; privilege: string; effect: Effect; group: { displayName: string } }>;
  const out = new Map<string, { groupId: string; displayName: string; allow: string[]; deny: string[] }>();
  for (const r of rows) {
    let g = out.get(r.groupId);
    if (!g) out.set(r.groupId, (g = { groupId: r.groupId, displayName: r.group.displayName, allow: [], deny: [] }));
    g[r.effect].push(r.privilege);
  }
  return [...out.values()];
}

export interface PersonPrivileges {
  person: PersonSummary;
  created: boolean;
  allow: string[];
  deny: string[];
  effective: string[];
}

/**
 * PUT /courses/{id}/privileges/{personRef}: the person's allow/deny lists in the course become
 * exactly these. Unknown email/key → invited placeholder (created: true). All in one transaction.
 */
export async function setPersonPrivileges(
  store: Store,
  principal: Principal,
  ctx: ActorContext,
  input: { courseRef: string; personRef: string; body: unknown },
  invite?: InviteSettings,
): Promise<PersonPrivileges> {
  const tenantId = principal.tenantId;
  const lists = parseInput(grantListsInput, input.body);
  return inTransaction(store, async (t) => {
    const course = await getCourse(store, tenantId, input.courseRef, t);
    await assertKnownPrivileges(store, tenantId, [...lists.allow, ...lists.deny], t);
    const held = await assertCanManage(store, principal, course.id, t);
    const { person, created } = await resolvePersonRef(store, t, ctx, tenantId, input.personRef, {
      create: true,
      invite,
      courseId: course.id,
    });
    const { changed } = await replaceGrants(
      store,
      t,
      ctx,
      { tenantId, courseId: course.id, personId: person.id },
      lists,
    );
    assertHolds(held, changed);
    await assertManagerRemains(store, principal, course.id, t);
    const eff = await effectiveOne(store, tenantId, course.id, person.id, t);
    return { person, created, allow: eff.allow, deny: eff.deny, effective: eff.effective };
  });
}

/** DELETE /courses/{id}/privileges/{personRef}: removes the person's grants in the course (memberships stay). */
export async function clearPersonPrivileges(
  store: Store,
  principal: Principal,
  ctx: ActorContext,
  courseRef: string,
  personRef: string,
): Promise<{ removed: number }> {
  const tenantId = principal.tenantId;
  return inTransaction(store, async (t) => {
    const course = await getCourse(store, tenantId, courseRef, t);
    const held = await assertCanManage(store, principal, course.id, t);
    const { person } = await resolvePersonRef(store, t, ctx, tenantId, personRef, { create: false });
    const { changed } = await replaceGrants(
      store,
      t,
      ctx,
      { tenantId, courseId: course.id, personId: person.id },
      { allow: [], deny: [] },
    );
    assertHolds(held, changed);
    await assertManagerRemains(store, principal, course.id, t);
    return { removed: changed.length };
  });
}

export async function setGroupPrivileges(
  store: Store,
  principal: Principal,
  ctx: ActorContext,
  input: { courseRef: string; groupId: string; body: unknown },
) {
  const tenantId = principal.tenantId;
  const lists = parseInput(grantListsInput, input.body);
  if (!UUID.test(input.groupId)) throw new NotFoundError(`No group ${input.groupId}`);
  return inTransaction(store, async (t) => {
    const course = await getCourse(store, tenantId, input.courseRef, t);
    await assertKnownPrivileges(store, tenantId, [...lists.allow, ...lists.deny], t);
    const held = await assertCanManage(store, principal, course.id, t);
    const { changed } = await replaceGroupGrants(
      store,
      t,
      ctx,
      { tenantId, courseId: course.id, groupId: input.groupId },
      lists,
    );
    assertHolds(held, changed);
    await assertManagerRemains(store, principal, course.id, t);
    return { groupId: input.groupId, allow: [...lists.allow].sort(), deny: [...lists.deny].sort() };
  });
}

/** The course's people (memberships, grants, group grants) with allow/deny/effective, a page at a time by person id. */
export async function listCoursePrivileges(
  store: Store,
  principal: Principal,
  courseRef: string,
  opts: { limit?: number; after?: string } = {},
) {
  const tenantId = principal.tenantId;
  const course = await getCourse(store, tenantId, courseRef);
  if (principal.kind === 'session') {
    const held = new Set((await effectiveOne(store, tenantId, course.id, principal.personId)).effective);
    if (!held.has(MANAGE) && !held.has('members.view'))
      throw new ForbiddenError(`You need ${MANAGE} or members.view in this course`);
  }
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 500);
  const ids = (await coursePeopleIds(store, tenantId, course.id)).sort();
  const start = opts.after ? ids.findIndex((id) => id > opts.after!) : 0;
  const pageIds = start < 0 ? [] : ids.slice(start, start + limit);
  const { Person, PersonEmail, IdentityLink, LtiPlatform, CourseMembership } = store.models;
  // People through their model: each row carries its external keys (userName, externalId, every
  // email, LMS identity links) by association, which is what a course admin matches people by.
  const [eff, people, memberships] = await Promise.all([
    effectiveMany(store, tenantId, course.id, pageIds),
    Person.findAll({
      where: { tenantId, id: pageIds },
      include: [
        { model: PersonEmail, as: 'emails', attributes: ['value', 'isPrimary', 'position'] },
        {
          model: IdentityLink,
          as: 'identityLinks',
          attributes: ['sub'],
          include: [{ model: LtiPlatform, as: 'platform', attributes: ['issuer'] }],
        },
      ],
    }),
    CourseMembership.findAll({
      where: { tenantId, courseId: course.id, personId: pageIds },
      attributes: ['personId', 'roles', 'status'],
    }),
  ]);
  const personOf = new Map(people.map((p) => [p.id, p]));
  const memberOf = new Map(memberships.map((m) => [m.personId, m]));
  const items = pageIds.map((id) => {
    const p = personOf.get(id);
    const e = eff.get(id)!;
    return {
      person: p
        ? {
            id,
            status: p.status,
            userName: p.userName,
            externalId: p.externalId,
            primaryEmail: p.primaryEmail,
            displayName: p.displayName,
            emails: (p.emails ?? [])
              .sort((x, y) => x.position - y.position || x.value.localeCompare(y.value))
              .map((m) => ({ value: m.value, primary: m.isPrimary })),
            identityLinks: (p.identityLinks ?? []).map((l) => ({ issuer: l.platform?.issuer ?? null, sub: l.sub })),
          }
        : { id, status: 'unknown' },
      roles: memberOf.get(id)?.roles ?? [],
      allow: e.allow,
      deny: e.deny,
      effective: e.effective,
      // the `why` of every decision, for the page's explanations
      decisions: e.decisions,
    };
  });
  const next = start >= 0 && start + limit < ids.length ? pageIds[pageIds.length - 1] : null;
  return { course, items, next, groups: await groupGrants(store, tenantId, course.id) };
}
