import { Op } from 'sequelize';
import type { ActorContext, Store } from '../db/store.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { UUID } from '../ids.js';
import { listAudit } from './audit.js';
import { getCourse, type CourseView } from './courses.js';
import { resendInvitation, type InviteSettings } from './invitations.js';
import { listPlatforms, platformFrameOrigins } from './platforms.js';
import { findOnePerson } from './person-reference.js';
import { catalogue, coursePeopleIds, effectiveOne, MANAGE, managers, type Principal } from './privileges/index.js';

/**
 * What the course admin page needs beyond the privileges API: who may open it (manage, view,
 * nothing — and then whom to ask), which platforms may frame it, the course's history in plain
 * words, and (re)sending a waiting person's invitation from the course.
 */
export const VIEW = 'members.view';
export type CourseAccessLevel = 'manage' | 'view' | 'none';

interface Named {
  displayName: string | null;
  userName: string | null;
  primaryEmail: string | null;
  externalId: string | null;
}
/** The words a teacher knows a person by: name, else email, else user name or school id. */
export const nameOf = (p: Named | null | undefined): string =>
  p?.displayName || p?.primaryEmail || p?.userName || p?.externalId || 'someone who has left';

export interface CourseAccess {
  course: CourseView;
  level: CourseAccessLevel;
  /** What the caller lacks to manage (or at least see) the course's people. */
  missing: string[];
  privileges: string[];
  you: string;
  /** People who hold privileges.manage here: whom to ask. */
  managers: string[];
}

export async function courseAccess(
  store: Store,
  tenantId: string,
  courseRef: string,
  personId: string,
): Promise<CourseAccess> {
  const course = await getCourse(store, tenantId, courseRef);
  const [held, holders, me] = await Promise.all([
    effectiveOne(store, tenantId, course.id, personId),
    managers(store, tenantId, course.id),
    store.models.Person.findOne({ where: { tenantId, id: personId }, raw: true }),
  ]);
  const has = (p: string) => held.effective.includes(p);
  const level: CourseAccessLevel = has(MANAGE) ? 'manage' : has(VIEW) ? 'view' : 'none';
  const people = holders.length
    ? await store.models.Person.findAll({
        where: { tenantId, id: holders.slice(0, 5), deletedAt: null },
        order: [['displayName', 'ASC']],
        raw: true,
      })
    : [];
  return {
    course,
    level,
    missing: level === 'manage' ? [] : level === 'view' ? [MANAGE] : [MANAGE, VIEW],
    privileges: held.effective,
    you: nameOf(me),
    managers: people.map(nameOf),
  };
}

/**
 * The origins that may frame a course's pages: its school's registered platforms (issuer, login
 * endpoint, and the places their signed launches named). Null when there is no such course.
 */
export async function courseFrameOrigins(store: Store, courseId: string): Promise<string[] | null> {
  if (!UUID.test(courseId)) return null;
  const course = await store.models.Course.findOne({
    attributes: ['tenantId'],
    where: { id: courseId, deletedAt: null },
    raw: true,
  });
  if (!course) return null;
  return tenantFrameOrigins(store, course.tenantId);
}

export async function tenantFrameOrigins(store: Store, tenantId?: string): Promise<string[]> {
  return [...new Set((await listPlatforms(store, tenantId)).flatMap(platformFrameOrigins))];
}

async function assertMaySee(store: Store, principal: Principal, courseId: string): Promise<Set<string> | null> {
  if (principal.kind === 'admin') return null;
  const held = new Set((await effectiveOne(store, principal.tenantId, courseId, principal.personId)).effective);
  if (!held.has(MANAGE) && !held.has(VIEW)) throw new ForbiddenError(`You need ${MANAGE} or ${VIEW} in this course`);
  return held;
}

export interface HistoryItem {
  id: number;
  at: string;
  actor: string;
  action: string;
  text: string;
}

const list = (keys: string[], label: (k: string) => string) => keys.map(label).join(', ');

/** GET /courses/{id}/history: the course's audit events, newest first, each as a sentence. */
export async function courseHistory(
  store: Store,
  principal: Principal,
  courseRef: string,
  opts: { before?: number; limit?: number } = {},
): Promise<{ items: HistoryItem[]; next: number | null }> {
  const tenantId = principal.tenantId;
  const course = await getCourse(store, tenantId, courseRef);
  await assertMaySee(store, principal, course.id);
  const page = await listAudit(store, {
    tenantId,
    course: course.id,
    before: opts.before,
    limit: Math.min(Math.max(opts.limit ?? 20, 1), 100),
  });
  const personIds = new Set<string>();
  for (const e of page.items) {
    const actor = /^person:(.+)$/.exec(e.actor)?.[1];
    if (actor && UUID.test(actor)) personIds.add(actor);
    const subject = e.targetType === 'course_person' ? e.targetId.split('/')[1] : undefined;
    if (subject && UUID.test(subject)) personIds.add(subject);
  }
  const [people, labels] = await Promise.all([
    personIds.size
      ? store.models.Person.findAll({ where: { tenantId, id: { [Op.in]: [...personIds] } }, raw: true })
      : Promise.resolve([]),
    catalogue(store, tenantId),
  ]);
  const personName = new Map(people.map((p) => [p.id, nameOf(p)]));
  const label = new Map(labels.map((l) => [l.key, l.description || l.key]));
  const priv = (k: string) => label.get(k) ?? k;
  const actorName = (actor: string) => {
    const id = /^person:(.+)$/.exec(actor)?.[1];
    if (id) return personName.get(id) ?? 'Someone who has left';
    if (actor.startsWith('token:')) return 'A school administrator';
    if (actor.startsWith('lti')) return 'The learning platform';
    return 'The school';
  };
  const items = page.items.map((e): HistoryItem => {
    const who = actorName(e.actor);
    const subjectId = e.targetType === 'course_person' ? e.targetId.split('/')[1] : undefined;
    const whom = subjectId ? (personName.get(subjectId) ?? 'someone who has left') : 'a group';
    const before = (e.before ?? {}) as { allow?: string[]; deny?: string[]; roles?: string[] };
    const after = (e.after ?? {}) as { allow?: string[]; deny?: string[]; roles?: string[]; title?: string };
    let text: string;
    if (e.action === 'privileges.set' || e.action === 'group_privileges.set') {
      const was = (k: string) => (before.allow?.includes(k) ? 'allow' : before.deny?.includes(k) ? 'deny' : 'inherit');
      const now = (k: string) => (after.allow?.includes(k) ? 'allow' : after.deny?.includes(k) ? 'deny' : 'inherit');
      const keys = [
        ...new Set([...(before.allow ?? []), ...(before.deny ?? []), ...(after.allow ?? []), ...(after.deny ?? [])]),
      ].filter((k) => was(k) !== now(k));
      const granted = keys.filter((k) => now(k) === 'allow');
      const denied = keys.filter((k) => now(k) === 'deny');
      const reset = keys.filter((k) => now(k) === 'inherit');
      const parts = [
        granted.length ? `granted ${list(granted, priv)} to ${whom}` : '',
        denied.length ? `denied ${list(denied, priv)} to ${whom}` : '',
        reset.length ? `set ${list(reset, priv)} back to the role default for ${whom}` : '',
      ].filter(Boolean);
      text = `${who} ${parts.length ? parts.join('; ') : `changed the privileges of ${whom}`}`;
    } else if (e.action === 'membership.set') {
      const roles = (after.roles ?? []).map((r) => r.replace(/^.*#/, ''));
      text = `${who} enrolled ${whom}${roles.length ? ` as ${roles.join(', ')}` : ''}`;
    } else if (e.action === 'membership.remove') text = `${who} removed ${whom} from the course`;
    else if (e.action === 'privileges.revoke_all') text = `${who} removed every privilege of ${whom}`;
    else if (e.action === 'invitation.create') text = `${who} invited ${whom}`;
    else if (e.action === 'invitation.resend') text = `${who} sent ${whom} their invitation again`;
    else if (e.action.startsWith('course.'))
      text = `${who} ${e.action === 'course.update' ? 'renamed' : 'set up'} the course`;
    else text = `${who}: ${e.action.replace(/[._]/g, ' ')}`;
    return { id: e.id, at: e.at, actor: who, action: e.action, text };
  });
  return { items, next: page.next };
}

/**
 * POST /courses/{id}/people/{personRef}/invitation: send (or send again) the invitation of a
 * person in this course who is still waiting for their first sign-in. Needs privileges.manage.
 */
export async function inviteCoursePerson(
  store: Store,
  principal: Principal,
  ctx: ActorContext,
  courseRef: string,
  personRef: string,
  settings: InviteSettings,
) {
  const tenantId = principal.tenantId;
  const course = await getCourse(store, tenantId, courseRef);
  if (principal.kind === 'session') {
    const held = (await effectiveOne(store, tenantId, course.id, principal.personId)).effective;
    if (!held.includes(MANAGE)) throw new ForbiddenError(`You need ${MANAGE} in this course`);
  }
  const person = await findOnePerson(store, tenantId, personRef);
  if (!(await coursePeopleIds(store, tenantId, course.id)).includes(person.id))
    throw new NotFoundError(`${personRef} is not in this course`);
  if (person.status !== 'invited')
    throw new ConflictError('Only people waiting for their first sign-in get an invitation');
  return resendInvitation(store, ctx, tenantId, person.id, settings, course.id);
}
