import type { Transaction } from 'sequelize';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { upsertKnownCourseMembership, upsertLaunchCourse, upsertLaunchMembership } from './launch-course.js';
import { resolveLaunchIdentity, type LaunchPlatformPolicy } from './launch-identity.js';
import { returningLaunch } from './launch-returning.js';
import type { NonceRecord } from './lti-states.js';

/**
 * Door 3 of DESIGN.md as one use case: a validated resource link launch becomes a person (or
 * nobody, if anonymous), a course and a membership. The returning person whose launch changes
 * nothing is done in one statement (launch-returning.ts); every other launch — first launches,
 * new courses, changed roles, people who are not plainly active — takes the general path in one
 * transaction. Either way the login state is burnt first (its nonce recorded), so a refused launch cannot be
 * replayed once the school has fixed the person. Only the general path writes people, links,
 * courses and memberships, each signalling its tenant's change after commit.
 */
export interface LaunchCourseClaim {
  contextId: string;
  title?: string | null;
  label?: string | null;
  /** SIS keys from the launch, most specific first (lis.course_offering_sourcedid, …). */
  sisKeys: string[];
}

export interface ResourceLaunchInput extends NonceRecord {
  tenantId: string;
  platform: LaunchPlatformPolicy;
  /** null for an anonymous launch */
  sub: string | null;
  claims: Record<string, unknown>;
  course: LaunchCourseClaim | null;
  /** Membership roles, already mapped from the launch's role claim. */
  roles: string[];
}

export interface LaunchPrincipal {
  tenantId: string;
  personId: string | null;
  courseId: string | null;
  roles: string[];
}

export type ResourceLaunchResult =
  | { ok: false; replayed: 'state' }
  | { ok: true; principal: LaunchPrincipal; path: 'returning' | 'general' };

export async function launchResource(
  store: Store,
  actor: ActorContext,
  input: ResourceLaunchInput,
): Promise<ResourceLaunchResult> {
  const r = await returningLaunch(store, {
    issuer: input.issuer,
    nonce: input.nonce,
    nonceExpiresAt: input.nonceExpiresAt,
    tenantId: input.tenantId,
    platformId: input.platform.id,
    // '' and '' match no link and no course (both are refused as empty by validation).
    sub: input.sub ?? '',
    contextId: input.course?.contextId ?? '',
    roles: input.roles,
  });
  if (!r.stateBurnt) return { ok: false, replayed: 'state' };
  if (input.sub !== null && input.course && r.personId && r.courseId && r.membershipCurrent) {
    const principal = { tenantId: input.tenantId, personId: r.personId, courseId: r.courseId, roles: input.roles };
    return { ok: true, principal, path: 'returning' };
  }
  const principal = await inTransaction(store, (t) => generalLaunch(store, t, actor, input));
  return { ok: true, principal, path: 'general' };
}

/** Identity (door 3), then the course and the membership, inside the caller's transaction. */
async function generalLaunch(
  store: Store,
  t: Transaction,
  actor: ActorContext,
  input: ResourceLaunchInput,
): Promise<LaunchPrincipal> {
  const { tenantId, roles, course } = input;
  const identity = await resolveLaunchIdentity(store, t, actor, {
    tenantId,
    platform: input.platform,
    sub: input.sub,
    claims: input.claims,
  });
  const personId = identity.person?.id ?? null;
  if (!course) return { tenantId, personId, courseId: null, roles };
  if (personId) {
    // A known course (most launches): course and membership in one statement.
    const known = await upsertKnownCourseMembership(store, t, actor, {
      tenantId,
      platformId: input.platform.id,
      contextId: course.contextId,
      personId,
      roles,
    });
    if (known) return { tenantId, personId, courseId: known.courseId, roles };
  }
  const { courseId } = await upsertLaunchCourse(store, t, actor, {
    tenantId,
    platformId: input.platform.id,
    contextId: course.contextId,
    title: course.title ?? null,
    label: course.label ?? null,
    sisKeys: course.sisKeys,
  });
  if (personId) await upsertLaunchMembership(store, t, actor, { tenantId, courseId, personId, roles });
  return { tenantId, personId, courseId, roles };
}
