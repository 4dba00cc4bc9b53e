import { Op } from 'sequelize';
import type { Store } from '../db/store.js';
import { UUID } from '../ids.js';
import { listAudit } from './audit.js';

/**
 * The audit log as the school admin page shows it: each event with its actor and target named in
 * words (a person's name, a token's name, a course's title) instead of ids, looked up in batches.
 */
export interface AuditLine {
  id: number;
  at: string;
  action: string;
  /** Who did it, in words: "Ada Lovelace", "admin token “Setup”", "SCIM token “Entra”", "the LMS", "the command line". */
  actor: string;
  /** What it was done to, in words ("ben@school.example", "Biology 101"), when known. */
  target: string | null;
  /** For course_person / course_group events: the course. */
  course: string | null;
}

const personName = (p: {
  displayName: string | null;
  primaryEmail: string | null;
  userName: string | null;
  externalId: string | null;
}) => p.displayName ?? p.primaryEmail ?? p.userName ?? p.externalId ?? 'a person';

export async function auditLines(
  store: Store,
  tenantId: string,
  q: { before?: number; limit?: number } = {},
): Promise<{ items: AuditLine[]; next: number | null }> {
  const page = await listAudit(store, { tenantId, before: q.before, limit: q.limit ?? 25 });
  const ids = {
    person: new Set<string>(),
    token: new Set<string>(),
    course: new Set<string>(),
    group: new Set<string>(),
  };
  const add = (set: Set<string>, id: string | undefined) => {
    if (id && UUID.test(id)) set.add(id);
  };
  for (const e of page.items) {
    const [kind, rest] = splitActor(e.actor);
    if (kind === 'person') add(ids.person, rest);
    if (kind === 'token' || kind === 'scim-token') add(ids.token, rest);
    const [a, b] = e.targetId.split(/[/:]/);
    if (e.targetType === 'person') add(ids.person, a);
    if (e.targetType === 'course') add(ids.course, a);
    if (e.targetType === 'group') add(ids.group, a);
    if (e.targetType === 'api_token') add(ids.token, a);
    if (e.targetType === 'course_person' || e.targetType === 'course_membership') {
      add(ids.course, a);
      add(ids.person, b);
    }
    if (e.targetType === 'course_group') {
      add(ids.course, a);
      add(ids.group, b);
    }
  }
  const { Person, ApiToken, Course, Group } = store.models;
  const where = (set: Set<string>) => ({ tenantId, id: { [Op.in]: [...set] } });
  const [people, tokens, courses, groups] = await Promise.all([
    ids.person.size
      ? Person.findAll({
          where: where(ids.person),
          attributes: ['id', 'displayName', 'primaryEmail', 'userName', 'externalId'],
          raw: true,
        })
      : [],
    ids.token.size ? ApiToken.findAll({ where: where(ids.token), attributes: ['id', 'kind', 'name'], raw: true }) : [],
    ids.course.size ? Course.findAll({ where: where(ids.course), attributes: ['id', 'title'], raw: true }) : [],
    ids.group.size ? Group.findAll({ where: where(ids.group), attributes: ['id', 'displayName'], raw: true }) : [],
  ]);
  const names = new Map<string, string>();
  for (const p of people) names.set(p.id, personName(p));
  for (const t of tokens) names.set(t.id, `${t.kind === 'scim' ? 'SCIM' : 'admin'} token “${t.name}”`);
  for (const c of courses) names.set(c.id, c.title);
  for (const g of groups) names.set(g.id, `group “${g.displayName}”`);
  const items = page.items.map((e): AuditLine => {
    const [a, b] = e.targetId.split(/[/:]/);
    const pair = ['course_person', 'course_group', 'course_membership'].includes(e.targetType);
    return {
      id: Number(e.id),
      at: e.at,
      action: e.action,
      actor: actorWords(e.actor, names),
      target: pair ? (names.get(b) ?? null) : (names.get(a) ?? targetFallback(e.targetType, e.after)),
      course: pair ? (names.get(a) ?? null) : null,
    };
  });
  return { items, next: page.next === null ? null : Number(page.next) };
}

function splitActor(actor: string): [string, string] {
  const i = actor.indexOf(':');
  return i < 0 ? [actor, ''] : [actor.slice(0, i), actor.slice(i + 1)];
}

function actorWords(actor: string, names: Map<string, string>): string {
  const [kind, rest] = splitActor(actor);
  switch (kind) {
    case 'person':
      return names.get(rest) ?? 'a person no longer here';
    case 'token':
      return names.get(rest) ?? 'an admin token';
    case 'scim-token':
      return names.get(rest) ?? 'your identity provider (SCIM)';
    case 'lti':
      return 'a sign-in from the LMS';
    case 'cli':
      return 'the command line';
    case 'operator':
      return 'the hosting team';
    default:
      return kind === 'lti:dynamic-registration' ? 'LMS registration' : 'the system';
  }
}

/** A target without a row to name it: what its recorded `after` says, when that is a name. */
function targetFallback(targetType: string, after: unknown): string | null {
  const o = (after && typeof after === 'object' ? after : {}) as Record<string, unknown>;
  for (const k of ['name', 'displayName', 'title', 'issuer', 'key'])
    if (typeof o[k] === 'string') return o[k] as string;
  return targetType === 'tenant' ? 'the school' : null;
}
