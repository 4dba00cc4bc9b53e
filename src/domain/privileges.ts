import type { Transaction } from 'sequelize';
import { z } from 'zod';
import { exec, select } from '../db/sql.js';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { changedOnCommit } from './change-signal.js';
import { AppError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { recordAudit } from './audit.js';
import { getCourse } from './courses.js';
import type { InviteSettings } from './invitations.js';
import { resolvePersonRef, type PersonSummary } from './person-reference.js';
import { UUID } from '../ids.js';
import { parseInput } from './validate.js';

/**
 * Course privileges. effective(person, course) =
 *   (role defaults of their memberships ∪ group allows ∪ person allows) − (group denies ∪ person denies)
 * deny wins; people whose status is not `active` hold nothing (their grants stay). Every decision
 * carries `why`: the rows that decided it.
 */

export type Effect = 'allow' | 'deny';

/** Who calls: a tenant admin token (exempt from course rules) or a course admin's LTI session. */
export type Principal =
  | { kind: 'admin'; tenantId: string; tokenId: string }
  | { kind: 'session'; tenantId: string; personId: string; courseId: string | null; roles: string[] };

export const principalActor = (p: Principal): string =>
  p.kind === 'admin' ? `token:${p.tokenId}` : `person:${p.personId}`;

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

export const MANAGE = 'privileges.manage';
/** LTI roles we know besides the tenant's configured defaults (LIS v2 membership vocabulary). */
export const KNOWN_ROLES = [
  'Instructor',
  'TeachingAssistant',
  'Learner',
  'ContentDeveloper',
  'Administrator',
  'Mentor',
  'Member',
  'Manager',
  'Officer',
];
/** `http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant` → `TeachingAssistant`. */
export const roleName = (role: string) => role.replace(/^.*#/, '');

/* ------------------------------------------------------------------ catalogue and role defaults */

export async function catalogue(store: Store, tenantId: string, t?: Transaction) {
  return select<{ key: string; description: string }>(
    store,
    'SELECT key, description FROM privilege_catalogue WHERE tenant_id = $1 ORDER BY key',
    [tenantId],
    t,
  );
}

/** Throws 400 listing the valid privileges when any of `keys` is not in the tenant's catalogue. */
export async function assertKnownPrivileges(
  store: Store,
  tenantId: string,
  keys: string[],
  t?: Transaction,
): Promise<string[]> {
  const valid = (await catalogue(store, tenantId, t)).map((r) => r.key);
  const unknown = [...new Set(keys)].filter((k) => !valid.includes(k));
  if (unknown.length) {
    throw new ValidationError(
      `Unknown privilege${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; valid: ${valid.join(', ')}`,
      {
        details: { unknown, valid },
      },
    );
  }
  return valid;
}

export const catalogueEntry = z.object({
  key: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'key: dotted lower-case words such as "reports.view"'),
  description: z.string().max(500).default(''),
});

export async function addCatalogueEntry(store: Store, ctx: ActorContext, tenantId: string, input: unknown) {
  const entry = parseInput(catalogueEntry, input);
  return inTransaction(store, async (t) => {
    const existing = await select(
      store,
      'SELECT 1 FROM privilege_catalogue WHERE tenant_id = $1 AND key = $2',
      [tenantId, entry.key],
      t,
    );
    if (existing.length) throw new ConflictError(`Privilege ${entry.key} already exists`);
    await exec(
      store,
      'INSERT INTO privilege_catalogue (tenant_id, key, description) VALUES ($1, $2, $3)',
      [tenantId, entry.key, entry.description],
      t,
    );
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'privilege.catalogue.add',
      targetType: 'privilege',
      targetId: entry.key,
      after: entry,
    });
    changedOnCommit(t, tenantId);
    return entry;
  });
}

export async function roleDefaults(store: Store, tenantId: string, t?: Transaction): Promise<Record<string, string[]>> {
  const rows = await select<{ role: string; privileges: string[] }>(
    store,
    'SELECT role, array_agg(privilege ORDER BY privilege) AS privileges FROM role_privilege_defaults WHERE tenant_id = $1 GROUP BY role ORDER BY role',
    [tenantId],
    t,
  );
  return Object.fromEntries(rows.map((r) => [r.role, r.privileges]));
}

export async function knownRoles(store: Store, tenantId: string, t?: Transaction): Promise<string[]> {
  return [...new Set([...KNOWN_ROLES, ...Object.keys(await roleDefaults(store, tenantId, t))])];
}

/** Role names or LTI role URIs; 400 listing the known ones otherwise. Returns short names. */
export async function normalizeRoles(
  store: Store,
  tenantId: string,
  roles: string[],
  t?: Transaction,
): Promise<string[]> {
  const known = await knownRoles(store, tenantId, t);
  const names = [...new Set(roles.map(roleName))];
  const unknown = names.filter((r) => !known.includes(r));
  if (unknown.length)
    throw new ValidationError(`Unknown role ${unknown.join(', ')}; known: ${known.join(', ')}`, {
      details: { unknown, known },
    });
  return names;
}

export const roleDefaultsInput = z.object({ privileges: z.array(z.string()).max(200) });

/** Replaces the default privileges of one role in the tenant. */
export async function setRoleDefaults(store: Store, ctx: ActorContext, tenantId: string, role: string, input: unknown) {
  const { privileges } = parseInput(roleDefaultsInput, input);
  if (!/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(role))
    throw new ValidationError('role: a short LTI role name such as Instructor');
  return inTransaction(store, async (t) => {
    await assertKnownPrivileges(store, tenantId, privileges, t);
    const before = (await roleDefaults(store, tenantId, t))[role] ?? [];
    await exec(store, 'DELETE FROM role_privilege_defaults WHERE tenant_id = $1 AND role = $2', [tenantId, role], t);
    if (privileges.length) {
      await exec(
        store,
        'INSERT INTO role_privilege_defaults (tenant_id, role, privilege) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING',
        [tenantId, role, privileges],
        t,
      );
    }
    const after = [...new Set(privileges)].sort();
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'privilege.role_defaults.set',
      targetType: 'role',
      targetId: role,
      before,
      after,
    });
    changedOnCommit(t, tenantId);
    return { role, privileges: after };
  });
}

/* ------------------------------------------------------------------ effective privileges */

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

function decide(personId: string, rows: SourceRow[]): Effective {
  const person = rows.find((r) => r.source === 'person');
  const status = person ? person.privilege : null;
  const live = person !== undefined && status === 'active' && person.effect === 'allow';
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
      const detail = person
        ? `person is ${status}${person.effect === 'deny' ? ' (inactive)' : ''}; grants apply once the person is active`
        : 'no such person';
      decisions.push({
        privilege,
        allowed: false,
        why: [{ source: 'status', effect: 'deny', status: status ?? undefined, detail }, ...why],
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

/* ------------------------------------------------------------------ course-admin rules */

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
    throw new AppError(409, 'conflict', `This change would remove the last holder of ${MANAGE} in the course`);
  }
}

/* ------------------------------------------------------------------ person grants */

export const grantLockKey = (tenantId: string, courseId: string, personId: string) =>
  `grants:${tenantId}:${courseId}:${personId}`;

const LOCK_NAMESPACE = { refs: 7_202_620, grants: 7_202_621 } as const;
/** Stripes per namespace: a lock per key would exhaust PostgreSQL's lock table (max_locks_per_transaction) in a 10,000-row bulk. */
const LOCK_STRIPES = 512;

/**
 * Transaction-scoped advisory locks on striped keys, taken in sorted order. Every transaction takes
 * `refs` locks before `grants` locks (bulk takes all its `refs` up front), so writers never deadlock;
 * two unrelated keys in one stripe merely wait for each other.
 */
export async function advisoryLocks(
  store: Store,
  t: Transaction,
  namespace: keyof typeof LOCK_NAMESPACE,
  keys: string[],
): Promise<void> {
  if (!keys.length) return;
  await select(
    store,
    `SELECT count(pg_advisory_xact_lock($1::int, s)) AS n
       FROM (SELECT DISTINCT (abs(hashtext(k)::bigint) % $3)::int AS s FROM unnest($2::text[]) AS u (k) ORDER BY 1) x`,
    [LOCK_NAMESPACE[namespace], [...new Set(keys)], LOCK_STRIPES],
    t,
  );
}

export interface GrantRow {
  id: string;
  privilege: string;
  effect: Effect;
}

export const grantListsInput = z
  .object({
    allow: z.array(z.string().min(1).max(100)).max(200).default([]),
    deny: z.array(z.string().min(1).max(100)).max(200).default([]),
  })
  .strict()
  .refine((v) => !v.allow.some((p) => v.deny.includes(p)), {
    message: 'a privilege cannot be both allowed and denied',
  });
export type GrantLists = z.infer<typeof grantListsInput>;

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
 * Makes (course, person)'s grant rows equal to the lists: unchanged rows are left alone (same id,
 * not rewritten), removed rows deleted, flipped rows updated, new rows inserted. Returns what was
 * there before and the privileges whose rows changed.
 */
export async function replaceGrants(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  target: { tenantId: string; courseId: string; personId: string },
  lists: GrantLists,
): Promise<{ before: GrantRow[]; changed: string[] }> {
  const { tenantId, courseId, personId } = target;
  // Two writers of the same (course, person) queue here instead of racing to insert the same row.
  await advisoryLocks(store, t, 'grants', [grantLockKey(tenantId, courseId, personId)]);
  const before = await select<GrantRow>(
    store,
    'SELECT id, privilege, effect FROM privilege_grants WHERE tenant_id = $1 AND course_id = $2 AND person_id = $3 ORDER BY privilege FOR UPDATE',
    [tenantId, courseId, personId],
    t,
  );
  const want = new Map<string, Effect>([
    ...lists.allow.map((p) => [p, 'allow'] as const),
    ...lists.deny.map((p) => [p, 'deny'] as const),
  ]);
  const have = new Map(before.map((r) => [r.privilege, r]));
  const remove = before.filter((r) => !want.has(r.privilege)).map((r) => r.id);
  const flip = before.filter((r) => want.has(r.privilege) && want.get(r.privilege) !== r.effect);
  const add = [...want].filter(([p]) => !have.has(p));
  if (remove.length) await exec(store, 'DELETE FROM privilege_grants WHERE id = ANY($1::uuid[])', [remove], t);
  for (const r of flip) {
    await exec(
      store,
      'UPDATE privilege_grants SET effect = $2, granted_by = $3, updated_at = now() WHERE id = $1',
      [r.id, want.get(r.privilege), ctx.actor],
      t,
    );
  }
  if (add.length) {
    await exec(
      store,
      `INSERT INTO privilege_grants (tenant_id, course_id, person_id, privilege, effect, granted_by)
       SELECT $1, $2, $3, p, e, $6 FROM unnest($4::text[], $5::text[]) AS x (p, e)`,
      [tenantId, courseId, personId, add.map((a) => a[0]), add.map((a) => a[1]), ctx.actor],
      t,
    );
  }
  const changed = [
    ...before.filter((r) => !want.has(r.privilege)).map((r) => r.privilege),
    ...flip.map((r) => r.privilege),
    ...add.map((a) => a[0]),
  ];
  if (changed.length) {
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'privileges.set',
      targetType: 'course_person',
      targetId: `${courseId}/${personId}`,
      before: { courseId, personId, ...grantAuditView(before) },
      after: { courseId, personId, allow: [...lists.allow].sort(), deny: [...lists.deny].sort() },
    });
    changedOnCommit(t, tenantId);
  }
  return { before, changed };
}

/** Removes every grant of a person in every course (SCIM DELETE User calls this). Memberships stay. */
export async function revokePersonGrants(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  personId: string,
): Promise<number> {
  const rows = await select<{ course_id: string; privilege: string; effect: Effect }>(
    store,
    'DELETE FROM privilege_grants WHERE tenant_id = $1 AND person_id = $2 RETURNING course_id, privilege, effect',
    [tenantId, personId],
    t,
  );
  const byCourse = new Map<string, Array<{ privilege: string; effect: Effect }>>();
  for (const r of rows) {
    let list = byCourse.get(r.course_id);
    if (!list) byCourse.set(r.course_id, (list = []));
    list.push(r);
  }
  for (const [courseId, list] of byCourse) {
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'privileges.revoke_all',
      targetType: 'course_person',
      targetId: `${courseId}/${personId}`,
      before: { courseId, personId, ...grantAuditView(list) },
      after: { courseId, personId, allow: [], deny: [] },
    });
  }
  if (rows.length) changedOnCommit(t, tenantId);
  return rows.length;
}

/* ------------------------------------------------------------------ group grants */

export async function groupGrants(store: Store, tenantId: string, courseId: string, t?: Transaction) {
  const rows = await select<{ group_id: string; display_name: string; privilege: string; effect: Effect }>(
    store,
    `SELECT gg.group_id, g.display_name, gg.privilege, gg.effect FROM group_privilege_grants gg JOIN groups g ON g.id = gg.group_id
      WHERE gg.tenant_id = $1 AND gg.course_id = $2 ORDER BY g.display_name, gg.group_id, gg.privilege`,
    [tenantId, courseId],
    t,
  );
  const out = new Map<string, { groupId: string; displayName: string; allow: string[]; deny: string[] }>();
  for (const r of rows) {
    let g = out.get(r.group_id);
    if (!g) out.set(r.group_id, (g = { groupId: r.group_id, displayName: r.display_name, allow: [], deny: [] }));
    g[r.effect].push(r.privilege);
  }
  return [...out.values()];
}

export async function replaceGroupGrants(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  target: { tenantId: string; courseId: string; groupId: string },
  lists: GrantLists,
): Promise<{ before: GrantRow[]; changed: string[] }> {
  const { tenantId, courseId, groupId } = target;
  const group = await select(
    store,
    'SELECT 1 FROM groups WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL',
    [tenantId, groupId],
    t,
  );
  if (!group.length) throw new NotFoundError(`No group ${groupId} in this tenant`);
  await exec(
    store,
    'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
    [`group-grants:${tenantId}:${courseId}:${groupId}`],
    t,
  );
  const before = await select<GrantRow>(
    store,
    'SELECT id, privilege, effect FROM group_privilege_grants WHERE tenant_id = $1 AND course_id = $2 AND group_id = $3 ORDER BY privilege FOR UPDATE',
    [tenantId, courseId, groupId],
    t,
  );
  const want = new Map<string, Effect>([
    ...lists.allow.map((p) => [p, 'allow'] as const),
    ...lists.deny.map((p) => [p, 'deny'] as const),
  ]);
  const have = new Map(before.map((r) => [r.privilege, r]));
  const changed: string[] = [];
  for (const r of before) {
    if (!want.has(r.privilege)) {
      await exec(store, 'DELETE FROM group_privilege_grants WHERE id = $1', [r.id], t);
      changed.push(r.privilege);
    } else if (want.get(r.privilege) !== r.effect) {
      await exec(
        store,
        'UPDATE group_privilege_grants SET effect = $2, granted_by = $3, updated_at = now() WHERE id = $1',
        [r.id, want.get(r.privilege), ctx.actor],
        t,
      );
      changed.push(r.privilege);
    }
  }
  for (const [p, e] of want) {
    if (have.has(p)) continue;
    await exec(
      store,
      'INSERT INTO group_privilege_grants (tenant_id, course_id, group_id, privilege, effect, granted_by) VALUES ($1, $2, $3, $4, $5, $6)',
      [tenantId, courseId, groupId, p, e, ctx.actor],
      t,
    );
    changed.push(p);
  }
  if (changed.length) {
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'group_privileges.set',
      targetType: 'course_group',
      targetId: `${courseId}/${groupId}`,
      before: { courseId, groupId, ...grantAuditView(before) },
      after: { courseId, groupId, allow: [...lists.allow].sort(), deny: [...lists.deny].sort() },
    });
    changedOnCommit(t, tenantId);
  }
  return { before, changed };
}

/* ------------------------------------------------------------------ batched audit */

/** One multi-row insert of audit events for batch operations (bulk enrolment); same columns as recordAudit. */
export async function recordAuditBatch(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  entries: Array<{ action: string; targetType: string; targetId: string; before?: unknown; after?: unknown }>,
): Promise<void> {
  for (let i = 0; i < entries.length; i += 2000) {
    const chunk = entries.slice(i, i + 2000);
    await exec(
      store,
      `INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, before, after, request_id)
       SELECT $1, $2, a, tt, ti, b::jsonb, af::jsonb, $3 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS x (a, tt, ti, b, af)`,
      [
        tenantId,
        ctx.actor,
        ctx.requestId ?? null,
        chunk.map((e) => e.action),
        chunk.map((e) => e.targetType),
        chunk.map((e) => e.targetId),
        chunk.map((e) => (e.before === undefined || e.before === null ? null : JSON.stringify(e.before))),
        chunk.map((e) => (e.after === undefined || e.after === null ? null : JSON.stringify(e.after))),
      ],
      t,
    );
  }
}

/* ------------------------------------------------------------------ use cases behind the API */

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
  const [eff, people, memberships] = await Promise.all([
    effectiveMany(store, tenantId, course.id, pageIds),
    select<{
      id: string;
      status: string;
      user_name: string | null;
      external_id: string | null;
      primary_email: string | null;
      display_name: string | null;
    }>(
      store,
      'SELECT id, status, user_name, external_id, primary_email, display_name FROM people WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
      [tenantId, pageIds],
    ),
    select<{ person_id: string; roles: string[]; status: string }>(
      store,
      'SELECT person_id, roles, status FROM course_memberships WHERE tenant_id = $1 AND course_id = $2 AND person_id = ANY($3::uuid[])',
      [tenantId, course.id, pageIds],
    ),
  ]);
  const personOf = new Map(people.map((p) => [p.id, p]));
  const memberOf = new Map(memberships.map((m) => [m.person_id, m]));
  const items = pageIds.map((id) => {
    const p = personOf.get(id);
    const e = eff.get(id)!;
    return {
      person: p
        ? {
            id,
            status: p.status,
            userName: p.user_name,
            externalId: p.external_id,
            primaryEmail: p.primary_email,
            displayName: p.display_name,
          }
        : { id, status: 'unknown' },
      roles: memberOf.get(id)?.roles ?? [],
      allow: e.allow,
      deny: e.deny,
      effective: e.effective,
    };
  });
  const next = start >= 0 && start + limit < ids.length ? pageIds[pageIds.length - 1] : null;
  return { course, items, next, groups: await groupGrants(store, tenantId, course.id) };
}
