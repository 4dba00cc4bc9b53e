import type { Transaction } from 'sequelize';
import { select } from '../../db/sql.js';
import type { Store } from '../../db/store.js';
import { MANAGE } from './catalogue.js';

/**
 * Course privileges. effective(person, course) =
 *   (role defaults of their memberships ∪ group allows ∪ person allows) − (group denies ∪ person denies)
 * deny wins. `active` people hold the effect, and so do `provisioned` ones: the school's IdP vouches
 * for them, and making them wait for a first launch would only hide their grants from the LMS.
 * `invited` placeholders wait for their first sign-in; everyone else holds nothing (their grants
 * stay). Every decision carries `why`: the rows that decided it.
 */

export type Effect = 'allow' | 'deny';

export interface Why {
  source: 'role' | 'group' | 'grant' | 'status';
  effect: Effect;
  role?: string;
  groupId?: string;
  groupName?: string;
  grantId?: string;
  status?: string;
  detail?: string;
}
export interface Decision {
  privilege: string;
  allowed: boolean;
  why: Why[];
  /**
   * Only on decisions held back by the person's status: what the answer becomes once they hold
   * their grants (an invited person's first sign-in, a suspension lifted). Same rule, deny wins.
   */
  whenActive?: boolean;
}
export interface Effective {
  personId: string;
  status: string | null;
  /** the person's own grant rows in the course */
  allow: string[];
  deny: string[];
  effective: string[];
  decisions: Decision[];
}

interface SourceRow {
  person_id: string;
  source: 'role' | 'group' | 'grant' | 'person';
  privilege: string;
  effect: Effect;
  ref: string | null;
  label: string | null;
}

const SOURCES_SQL = `
WITH RECURSIVE member_of (person_id, group_id) AS (
  SELECT gm.member_id, gm.group_id
    FROM group_members gm JOIN groups g ON g.id = gm.group_id AND g.deleted_at IS NULL
   WHERE gm.tenant_id = $1 AND gm.member_type = 'person' AND gm.member_id = ANY($3::uuid[])
     AND EXISTS (SELECT 1 FROM group_privilege_grants x WHERE x.tenant_id = $1 AND x.course_id = $2)
  UNION
  SELECT m.person_id, gm.group_id
    FROM member_of m
    JOIN group_members gm ON gm.tenant_id = $1 AND gm.member_type = 'group' AND gm.member_id = m.group_id
    JOIN groups g ON g.id = gm.group_id AND g.deleted_at IS NULL
)
SELECT m.person_id, 'role' AS source, d.privilege, 'allow' AS effect, r.role AS ref, NULL AS label
  FROM course_memberships m
  CROSS JOIN LATERAL unnest(m.roles) AS r (role)
  JOIN role_privilege_defaults d ON d.tenant_id = m.tenant_id AND d.role = regexp_replace(r.role, '^.*#', '')
 WHERE m.tenant_id = $1 AND m.course_id = $2 AND m.person_id = ANY($3::uuid[]) AND m.status = 'active'
UNION ALL
SELECT mo.person_id, 'group', gg.privilege, gg.effect, gg.group_id::text, g.display_name
  FROM member_of mo
  JOIN group_privilege_grants gg ON gg.tenant_id = $1 AND gg.course_id = $2 AND gg.group_id = mo.group_id
  JOIN groups g ON g.id = gg.group_id
UNION ALL
SELECT pg.person_id, 'grant', pg.privilege, pg.effect, pg.id::text, NULL
  FROM privilege_grants pg WHERE pg.tenant_id = $1 AND pg.course_id = $2 AND pg.person_id = ANY($3::uuid[])
UNION ALL
SELECT p.id, 'person', p.status, CASE WHEN p.active THEN 'allow' ELSE 'deny' END, NULL, NULL
  FROM people p WHERE p.tenant_id = $1 AND p.id = ANY($3::uuid[]) AND p.deleted_at IS NULL`;

/** Effective privileges of several people in one course, in three round trips at most. */
export async function effectiveMany(
  store: Store,
  tenantId: string,
  courseId: string,
  personIds: string[],
  t?: Transaction,
): Promise<Map<string, Effective>> {
  const out = new Map<string, Effective>();
  if (personIds.length === 0) return out;
  const rows = await select<SourceRow>(store, SOURCES_SQL, [tenantId, courseId, personIds], t);
  const byPerson = new Map<string, SourceRow[]>();
  for (const r of rows) {
    let list = byPerson.get(r.person_id);
    if (!list) byPerson.set(r.person_id, (list = []));
    list.push(r);
  }
  for (const id of personIds) out.set(id, decide(id, byPerson.get(id) ?? []));
  return out;
}

function whyOf(r: SourceRow): Why {
  if (r.source === 'role') return { source: 'role', effect: 'allow', role: r.ref ?? undefined };
  if (r.source === 'group')
    return { source: 'group', effect: r.effect, groupId: r.ref ?? undefined, groupName: r.label ?? undefined };
  return { source: 'grant', effect: r.effect, grantId: r.ref ?? undefined };
}

/** Statuses whose holders have the effect of their grants now. */
const HOLDING = new Set(['active', 'provisioned']);

function decide(personId: string, rows: SourceRow[]): Effective {
  const person = rows.find((r) => r.source === 'person');
  const status = person ? person.privilege : null;
  const live = person !== undefined && HOLDING.has(status as string) && person.effect === 'allow';
  const allow: string[] = [];
  const deny: string[] = [];
  const sources = new Map<string, Why[]>();
  for (const r of rows) {
    if (r.source === 'person') continue;
    if (r.source === 'grant') (r.effect === 'allow' ? allow : deny).push(r.privilege);
    let list = sources.get(r.privilege);
    if (!list) sources.set(r.privilege, (list = []));
    list.push(whyOf(r));
  }
  const decisions: Decision[] = [];
  for (const [privilege, why] of [...sources].sort((a, b) => a[0].localeCompare(b[0]))) {
    const denies = why.filter((w) => w.effect === 'deny');
    if (!live) {
      const detail = !person
        ? 'no such person'
        : status === 'invited'
          ? 'waiting for first sign-in; grants apply once the person signs in or the school provisions them'
          : `person is ${status}${person.effect === 'deny' ? ' (inactive)' : ''}; grants apply once the person is active`;
      decisions.push({
        privilege,
        allowed: false,
        why: [{ source: 'status', effect: 'deny', status: status ?? undefined, detail }, ...why],
        whenActive: denies.length === 0 && why.length > 0,
      });
    } else if (denies.length) decisions.push({ privilege, allowed: false, why: denies });
    else decisions.push({ privilege, allowed: true, why });
  }
  return {
    personId,
    status,
    allow: allow.sort(),
    deny: deny.sort(),
    effective: decisions.filter((d) => d.allowed).map((d) => d.privilege),
    decisions,
  };
}

export async function effectiveOne(
  store: Store,
  tenantId: string,
  courseId: string,
  personId: string,
  t?: Transaction,
): Promise<Effective> {
  return (await effectiveMany(store, tenantId, courseId, [personId], t)).get(personId)!;
}

/** A privilege nobody's sources mention: denied, with `why` saying so. */
export function decisionFor(e: Effective, privilege: string): Decision {
  return e.decisions.find((d) => d.privilege === privilege) ?? { privilege, allowed: false, why: [] };
}

/** Course, person ids in it (memberships, grants, members of groups with grants). */
export async function coursePeopleIds(
  store: Store,
  tenantId: string,
  courseId: string,
  t?: Transaction,
): Promise<string[]> {
  const rows = await select<{ id: string }>(
    store,
    `WITH RECURSIVE g (group_id) AS (
       SELECT group_id FROM group_privilege_grants WHERE tenant_id = $1 AND course_id = $2
       UNION
       SELECT gm.member_id FROM group_members gm JOIN g ON gm.tenant_id = $1 AND gm.group_id = g.group_id AND gm.member_type = 'group'
     )
     SELECT person_id AS id FROM course_memberships WHERE tenant_id = $1 AND course_id = $2
     UNION SELECT person_id FROM privilege_grants WHERE tenant_id = $1 AND course_id = $2
     UNION SELECT gm.member_id FROM group_members gm JOIN g ON gm.tenant_id = $1 AND gm.group_id = g.group_id AND gm.member_type = 'person'`,
    [tenantId, courseId],
    t,
  );
  return rows.map((r) => r.id);
}

export async function managers(store: Store, tenantId: string, courseId: string, t?: Transaction): Promise<string[]> {
  const ids = await coursePeopleIds(store, tenantId, courseId, t);
  const eff = await effectiveMany(store, tenantId, courseId, ids, t);
  return ids.filter((id) => eff.get(id)!.effective.includes(MANAGE));
}
