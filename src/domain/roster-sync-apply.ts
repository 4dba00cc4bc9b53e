import type { Transaction } from 'sequelize';
import { select } from '../db/sql.js';
import { isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import type { PersonAttrs } from '../db/models.js';
import { recordAudit, recordAuditBatch, type AuditBatchEntry } from './audit.js';
import { identityClaimValue } from './launch-identity.js';
import { insertPerson, seatsLeft } from './people.js';
import type { RosterProblem, RosterSyncMode } from './roster-sync-models.js';

/**
 * Applies one fetched roster to one course, inside the caller's transaction (roster-sync.ts opens
 * it once every page is in): each member becomes the person the other doors would find, or a
 * waiting person ready for their first launch; then memberships follow the roster.
 *
 * Who a member is — door 3 of DESIGN.md, as a launch by that member would decide it:
 *   1. the identity link (platform, user_id) — NRPS user_id is the launch `sub` (LTI-NOTES §2.5);
 *   2. the platform's identity claim (lis_person_sourcedid, or a custom claim sent with ?rlid=)
 *      against externalId, then userName; two matches are a data problem, never a guess;
 *   3. the email, only where the platform is trusted for email and exactly one unlinked live
 *      person has it;
 *   4. otherwise a new `invited` person (source `roster`, the identity claim as externalId so SCIM
 *      adopts them later), within the tenant's seats.
 * A person found by 2 or 3 is linked (matched_by claim/email) exactly as their launch would link
 * them; a new person is linked with matched_by `roster`. Either way their first launch finds the
 * link at once (launch-identity.ts step 1) and rewrites nothing. A person already linked to another
 * sub of the platform is never re-linked; suspended or deprovisioned people are left alone. Those
 * members are reported as problems and the rest of the roster still applies.
 *
 * Memberships: Active members get an active membership with their roles (source `roster` when
 * new); Inactive and Deleted members (differences feeds) end theirs; a full roster also ends the
 * memberships that came from the LMS (source lti or roster) of people no longer in it. Memberships
 * a school admin made (api, bulk) stay: the LMS does not own them. People always stay.
 */
export interface RosterMember {
  /** NRPS user_id: the launch `sub` on this platform. */
  userId: string;
  roles: string[];
  status: 'Active' | 'Inactive' | 'Deleted';
  name?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  email?: string | null;
  /** lis_person_sourcedid */
  sourcedId?: string | null;
  /** Custom parameters of the member's message (sent with ?rlid=). */
  custom?: Record<string, unknown> | null;
}

export interface RosterPlatformPolicy {
  id: string;
  trustEmail: boolean;
  identityClaim: string;
}

export interface RosterApplyInput {
  tenantId: string;
  courseId: string;
  platform: RosterPlatformPolicy;
  mode: RosterSyncMode;
  members: RosterMember[];
}

export interface RosterApplyResult {
  members: number;
  added: number;
  updated: number;
  ended: number;
  unchanged: number;
  peopleCreated: number;
  peopleLinked: number;
  problems: RosterProblem[];
}

const LIS = 'https://purl.imsglobal.org/spec/lti/claim/lis';
const CUSTOM = 'https://purl.imsglobal.org/spec/lti/claim/custom';
const CANNOT_BE_LINKED = new Set(['suspended', 'deprovisioned']);

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/** The member as the claims of their launch would name them, for identityClaimValue. */
function memberClaims(m: RosterMember): Record<string, unknown> {
  return {
    [LIS]: { person_sourcedid: m.sourcedId ?? undefined },
    [CUSTOM]: m.custom ?? undefined,
    email: m.email ?? undefined,
  };
}

interface LinkedRow {
  sub: string;
  id: string;
  status: string;
  merged_into: string | null;
  deleted_at: Date | null;
}

/** Step 1 for the whole roster in one statement: linked people by sub (a merged one's survivor). */
async function linkedPeople(store: Store, t: Transaction, input: RosterApplyInput, subs: string[]) {
  const rows = await select<LinkedRow>(
    store,
    `SELECT l.sub, COALESCE(s.id, p.id) AS id, COALESCE(s.status, p.status) AS status, p.merged_into,
            COALESCE(s.deleted_at, p.deleted_at) AS deleted_at
       FROM identity_links l JOIN people p ON p.tenant_id = l.tenant_id AND p.id = l.person_id
       LEFT JOIN people s ON p.status = 'merged' AND s.tenant_id = p.tenant_id AND s.id = p.merged_into
      WHERE l.tenant_id = $1 AND l.platform_id = $2 AND l.sub = ANY($3::text[])`,
    [input.tenantId, input.platform.id, subs],
    t,
  );
  return new Map(rows.map((r) => [r.sub, r]));
}

const PERSON_MATCH = `SELECT p.id, p.status, p.deleted_at,
    (SELECT l.sub FROM identity_links l WHERE l.tenant_id = p.tenant_id AND l.platform_id = $2 AND l.person_id = p.id) AS linked_sub
  FROM people p`;

interface MatchRow {
  id: string;
  status: string;
  deleted_at: Date | null;
  linked_sub: string | null;
}

/** Step 2: externalId first, then userName (case-insensitive), among live people. */
async function byClaim(store: Store, t: Transaction, input: RosterApplyInput, value: string) {
  const live = `p.tenant_id = $1 AND p.deleted_at IS NULL AND p.status <> 'merged'`;
  let rows = await select<MatchRow>(
    store,
    `${PERSON_MATCH} WHERE ${live} AND p.external_id = $3 LIMIT 2`,
    [input.tenantId, input.platform.id, value],
    t,
  );
  if (rows.length === 0)
    rows = await select<MatchRow>(
      store,
      `${PERSON_MATCH} WHERE ${live} AND lower(p.user_name) = lower($3) LIMIT 2`,
      [input.tenantId, input.platform.id, value],
      t,
    );
  return rows;
}

/** Step 3: exactly one live, unlinked person with this email (primary or any). */
async function byEmail(store: Store, t: Transaction, input: RosterApplyInput, email: string) {
  const rows = await select<MatchRow>(
    store,
    `${PERSON_MATCH}
     WHERE p.tenant_id = $1 AND p.deleted_at IS NULL AND p.status NOT IN ('merged', 'deprovisioned')
       AND (p.primary_email = lower($3) OR EXISTS (SELECT 1 FROM person_emails e WHERE e.tenant_id = $1 AND e.person_id = p.id AND e.value_lower = lower($3)))
       AND NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.tenant_id = $1 AND l.platform_id = $2 AND l.person_id = p.id)
     LIMIT 2`,
    [input.tenantId, input.platform.id, email],
    t,
  );
  return rows.length === 1 ? rows[0] : undefined;
}

/** Members by user_id, the last entry of a user winning (a differences feed may list one twice). */
function distinctMembers(members: RosterMember[]): RosterMember[] {
  const byId = new Map<string, RosterMember>();
  for (const m of members) byId.set(m.userId, m);
  return [...byId.values()];
}

export async function applyRoster(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: RosterApplyInput,
): Promise<RosterApplyResult> {
  const members = distinctMembers(input.members);
  const problems: RosterProblem[] = [];
  const problem = (m: RosterMember, reason: string, message: string) =>
    problems.push({ userId: m.userId, reason, message });
  const linked = await linkedPeople(
    store,
    t,
    input,
    members.map((m) => m.userId),
  );
  /** person id of each member placed in this course */
  const personOf = new Map<string, string>();
  const linkedNow = new Set<string>();
  let seats: { limit: number; left: number } | null | undefined;
  let peopleCreated = 0;
  let peopleLinked = 0;

  for (const m of members) {
    const link = linked.get(m.userId);
    if (link) {
      if (link.deleted_at || link.status === 'merged') {
        problem(m, 'no_person', 'The person this user was linked to is no longer known to the school');
        continue;
      }
      personOf.set(m.userId, link.id);
      continue;
    }
    // Nobody to end a membership for: an unlinked user has none from the LMS.
    if (m.status !== 'Active') continue;

    const claimValue = identityClaimValue(input.platform.identityClaim, memberClaims(m));
    let found: MatchRow | undefined;
    let matchedBy: 'claim' | 'email' | undefined;
    if (claimValue) {
      const rows = await byClaim(store, t, input, claimValue);
      if (rows.length > 1) {
        problem(m, 'ambiguous', 'More than one person at the school matches this user; fix the duplicate');
        continue;
      }
      if (rows[0]) [found, matchedBy] = [rows[0], 'claim'];
    }
    const email = str(m.email);
    if (!found && input.platform.trustEmail && email) {
      found = await byEmail(store, t, input, email);
      if (found) matchedBy = 'email';
    }
    if (found && matchedBy) {
      if (found.linked_sub !== null || linkedNow.has(found.id)) {
        problem(m, 'linked_elsewhere', 'The matching person is already linked to another user of this platform');
        continue;
      }
      if (CANNOT_BE_LINKED.has(found.status)) {
        problem(m, 'inactive', `The matching person is ${found.status}`);
        continue;
      }
      const person = found;
      const linkedOk = await savepoint(store, t, async (sp) => {
        await createLink(store, sp, ctx, input, person.id, m.userId, matchedBy);
        return true;
      });
      if (!linkedOk) {
        problem(m, 'raced', 'A launch linked this user at the same moment; the next sync places them');
        continue;
      }
      linkedNow.add(found.id);
      peopleLinked++;
      personOf.set(m.userId, found.id);
      continue;
    }

    // A new waiting person, within the tenant's seats (counted once, then kept here).
    if (seats === undefined) seats = await seatsLeft(store, t, input.tenantId);
    if (seats && seats.left < 1) {
      problem(m, 'seat_limit', `The school's seat limit of ${seats.limit} people is reached`);
      continue;
    }
    const person = await savepoint(store, t, async (sp) => {
      const created: PersonAttrs = await insertPerson(store, sp, ctx, {
        tenantId: input.tenantId,
        status: 'invited',
        source: 'roster',
        externalId: claimValue,
        primaryEmail: email,
        givenName: str(m.givenName),
        familyName: str(m.familyName),
        displayName: str(m.name),
      });
      await createLink(store, sp, ctx, input, created.id, m.userId, 'roster');
      return created;
    });
    if (!person) {
      problem(m, 'raced', 'A launch linked this user at the same moment; the next sync places them');
      continue;
    }
    if (seats) seats.left--;
    linkedNow.add(person.id);
    peopleCreated++;
    personOf.set(m.userId, person.id);
  }

  const active = members.filter((m) => m.status === 'Active' && personOf.has(m.userId));
  const leaving = members.filter((m) => m.status !== 'Active' && personOf.has(m.userId));
  const audit: AuditBatchEntry[] = [];
  const target = (personId: string) => `${input.courseId}:${personId}`;

  const upserted = await select<{
    person_id: string;
    roles: string[];
    before: { roles: string[]; status: string } | null;
  }>(
    store,
    `WITH input AS (
       SELECT DISTINCT ON (p) p AS person_id, ARRAY(SELECT jsonb_array_elements_text(r::jsonb)) AS roles
         FROM unnest($3::uuid[], $4::text[]) AS x (p, r)
     ), old AS (
       SELECT m.person_id, m.roles, m.status FROM course_memberships m JOIN input i ON i.person_id = m.person_id
        WHERE m.tenant_id = $1 AND m.course_id = $2
     ), up AS (
       INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source)
       SELECT $1, $2, person_id, roles, 'active', 'roster' FROM input
       ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = 'active', updated_at = now()
         WHERE course_memberships.roles IS DISTINCT FROM EXCLUDED.roles OR course_memberships.status <> 'active'
       RETURNING person_id, roles
     )
     SELECT up.person_id, up.roles, (SELECT jsonb_build_object('roles', o.roles, 'status', o.status) FROM old o WHERE o.person_id = up.person_id) AS before
       FROM up`,
    [
      input.tenantId,
      input.courseId,
      active.map((m) => personOf.get(m.userId)!),
      active.map((m) => JSON.stringify([...new Set(m.roles)])),
    ],
    t,
  );
  let added = 0;
  let updated = 0;
  for (const r of upserted) {
    const reactivated = r.before?.status !== 'active';
    if (reactivated) added++;
    else updated++;
    audit.push({
      action: r.before ? 'course_membership.update' : 'course_membership.create',
      targetType: 'course_membership',
      targetId: target(r.person_id),
      before: r.before,
      after: { roles: r.roles, status: 'active', ...(r.before ? {} : { source: 'roster' }) },
    });
  }

  const keep = [...new Set(active.map((m) => personOf.get(m.userId)!))];
  const ended = await select<{ person_id: string; roles: string[] }>(
    store,
    `UPDATE course_memberships SET status = 'inactive', updated_at = now()
      WHERE tenant_id = $1 AND course_id = $2 AND status = 'active'
        AND (person_id = ANY($3::uuid[]) OR ($4 AND source IN ('lti', 'roster') AND NOT (person_id = ANY($5::uuid[]))))
      RETURNING person_id, roles`,
    [
      input.tenantId,
      input.courseId,
      leaving.map((m) => personOf.get(m.userId)!).filter((id) => !keep.includes(id)),
      input.mode === 'full',
      keep,
    ],
    t,
  );
  for (const r of ended)
    audit.push({
      action: 'course_membership.end',
      targetType: 'course_membership',
      targetId: target(r.person_id),
      before: { roles: r.roles, status: 'active' },
      after: { roles: r.roles, status: 'inactive' },
    });
  await recordAuditBatch(store, t, ctx, input.tenantId, audit);

  return {
    members: members.length,
    added,
    updated,
    ended: ended.length,
    unchanged: keep.length - upserted.length,
    peopleCreated,
    peopleLinked,
    problems,
  };
}

/**
 * Runs `fn` in a savepoint; a unique violation (a launch linking the same user at the same moment)
 * rolls back only that member and answers undefined, so the rest of the roster still applies.
 */
async function savepoint<T>(store: Store, t: Transaction, fn: (sp: Transaction) => Promise<T>): Promise<T | undefined> {
  try {
    return await store.sequelize.transaction({ transaction: t }, fn);
  } catch (err) {
    if (isUniqueViolation(err)) return undefined;
    throw err;
  }
}

async function createLink(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: RosterApplyInput,
  personId: string,
  sub: string,
  matchedBy: 'claim' | 'email' | 'roster',
): Promise<void> {
  await store.models.IdentityLink.create(
    { tenantId: input.tenantId, personId, platformId: input.platform.id, sub, matchedBy },
    { transaction: t },
  );
  await recordAudit(store, t, ctx, {
    tenantId: input.tenantId,
    action: 'person.link',
    targetType: 'person',
    targetId: personId,
    after: { platformId: input.platform.id, sub, matchedBy },
  });
}
