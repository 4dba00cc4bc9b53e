import type { Transaction } from 'sequelize';
import { exec, select } from '../../db/sql.js';
import type { ActorContext, Store } from '../../db/store.js';
import { SeatLimitError } from '../../errors.js';
import type { PersonAttrs } from '../../db/models.js';
import { seatsLeft } from '../people.js';
import { deprovisionPerson } from '../provisioning.js';
import type { LineError } from './records.js';
import type { FileMode, ImportedFile } from './vocabulary.js';

/**
 * Maps the staged OneRoster records (stage.ts) onto the people, courses and memberships the rest of
 * the product uses, with set-based statements inside the import's transaction:
 *
 * - a user is the person already linked to its sourcedId, else the live person whose externalId is
 *   the sourcedId or whose userName is the username, else the one person (not yet linked to another
 *   OneRoster user) one of its userIds or its email names; else a new person (source `roster`,
 *   externalId = sourcedId). Several candidates for one user is a line error, never a guess.
 * - a class is the course linked to its sourcedId, else the live course whose external key is the
 *   sourcedId, else a new course with that key.
 * - an enrollment gives its person the LTI role of its OneRoster role in its class's course; a
 *   membership's roles are those of the person's active enrollments in that course.
 * - a bulk file replaces the records of its kind (absent ones are removed); a delta file changes the
 *   rows it names (`tobedeleted` removes). A removed user ends its memberships and, when the roster
 *   created that person, deprovisions them (people from SCIM or a launch belong to that door).
 * - a record whose digest did not change is not written: importing the same bundle twice changes nothing.
 * Every change is audited (set-based inserts into audit_events) in the same transaction.
 */
export interface ImportSummary {
  people: { created: number; updated: number; linked: number; deprovisioned: number; unlinked: number };
  courses: { created: number; updated: number };
  memberships: { added: number; updated: number; ended: number };
  records: { created: number; updated: number; deleted: number };
  /** `tobedeleted` rows naming a record we never had. */
  unknownDeletes: number;
  /** Every write above, summed: 0 when the import changed nothing. */
  changes: number;
}

export function emptySummary(): ImportSummary {
  return {
    people: { created: 0, updated: 0, linked: 0, deprovisioned: 0, unlinked: 0 },
    courses: { created: 0, updated: 0 },
    memberships: { added: 0, updated: 0, ended: 0 },
    records: { created: 0, updated: 0, deleted: 0 },
    unknownDeletes: 0,
    changes: 0,
  };
}

const LIVE = "p.deleted_at IS NULL AND p.status NOT IN ('merged', 'deprovisioned')";
const MAX_ERRORS_PER_CHECK = 1000;

interface Ctx {
  store: Store;
  t: Transaction;
  actor: ActorContext;
  tenantId: string;
  importId: string;
  modes: Record<ImportedFile, FileMode>;
  errors: LineError[];
  summary: ImportSummary;
  nameOf: (file: ImportedFile) => string;
}

async function timed<T>(sql: string, p: Promise<T>): Promise<T> {
  if (process.env.ONEROSTER_TRACE !== '2') return p;
  const started = performance.now();
  const r = await p;
  process.stderr.write(`  ${(performance.now() - started).toFixed(0)} ms  ${sql.replace(/\s+/g, ' ').slice(0, 110)}\n`);
  return r;
}
const q = <T extends object>(c: Ctx, sql: string, bind: unknown[]) => timed(sql, select<T>(c.store, sql, bind, c.t));
const run = (c: Ctx, sql: string, bind: unknown[]) => timed(sql, exec(c.store, sql, bind, c.t));
const num = (v: unknown) => Number(v ?? 0);

/** Runs the mapping; returns false (having written nothing that will stay) when a line error was found. */
export async function applyStaged(
  store: Store,
  t: Transaction,
  actor: ActorContext,
  input: {
    tenantId: string;
    importId: string;
    modes: Record<ImportedFile, FileMode>;
    errors: LineError[];
    nameOf: (file: ImportedFile) => string;
  },
): Promise<ImportSummary> {
  const c: Ctx = { store, t, actor, ...input, summary: emptySummary() };
  const step = trace();
  await findGone(c);
  step('gone');
  await resolveClasses(c);
  step('classes resolved');
  await resolveUsers(c);
  step('users resolved');
  if (c.errors.length) return c.summary;
  await removeGone(c);
  await writeOthers(c);
  await writeClasses(c);
  step('classes written');
  await writeUsers(c);
  step('users written');
  await resolveEnrollments(c);
  step('enrollments resolved');
  if (c.errors.length) return c.summary;
  await writeEnrollments(c);
  step('enrollments written');
  await writeMemberships(c);
  step('memberships written');
  const s = c.summary;
  s.changes =
    Object.values(s.people).reduce((a, b) => a + b, 0) +
    Object.values(s.courses).reduce((a, b) => a + b, 0) +
    Object.values(s.memberships).reduce((a, b) => a + b, 0) +
    Object.values(s.records).reduce((a, b) => a + b, 0);
  return s;
}

/** ONEROSTER_TRACE=1 prints each step's time on stderr (the benchmark's breakdown). */
function trace() {
  let last = performance.now();
  return (name: string) => {
    if (!process.env.ONEROSTER_TRACE) return;
    const now = performance.now();
    process.stderr.write(`oneroster: ${name} ${(now - last).toFixed(0)} ms\n`);
    last = now;
  };
}

const STAGE: Record<string, { table: string; file: ImportedFile; where: string }> = {
  org: { table: 'or_others', file: 'orgs', where: "s.kind = 'org'" },
  academicSession: { table: 'or_others', file: 'academicSessions', where: "s.kind = 'academicSession'" },
  course: { table: 'or_others', file: 'courses', where: "s.kind = 'course'" },
  class: { table: 'or_classes', file: 'classes', where: 'true' },
  user: { table: 'or_users', file: 'users', where: 'true' },
};

/** Records that leave: absent from a bulk file, or `tobedeleted` in any file. */
async function findGone(c: Ctx): Promise<void> {
  for (const [kind, st] of Object.entries(STAGE)) {
    const mode = c.modes[st.file];
    if (mode === 'absent') continue;
    await run(
      c,
      `INSERT INTO or_gone (kind, sourced_id, person_id)
       SELECT r.kind, r.sourced_id, r.person_id FROM oneroster_records r
        WHERE r.tenant_id = $1 AND r.kind = $2 AND r.status = 'active' AND (
          ($3 AND NOT EXISTS (SELECT 1 FROM ${st.table} s WHERE ${st.where} AND s.sourced_id = r.sourced_id AND s.status = 'active'))
          OR EXISTS (SELECT 1 FROM ${st.table} s WHERE ${st.where} AND s.sourced_id = r.sourced_id AND s.status = 'tobedeleted'))`,
      [c.tenantId, kind, mode === 'bulk'],
    );
    const [unknown] = await q<{ n: string }>(
      c,
      `SELECT count(*) AS n FROM ${st.table} s WHERE ${st.where} AND s.status = 'tobedeleted'
         AND NOT EXISTS (SELECT 1 FROM oneroster_records r WHERE r.tenant_id = $1 AND r.kind = $2 AND r.sourced_id = s.sourced_id AND r.status = 'active')`,
      [c.tenantId, kind],
    );
    c.summary.unknownDeletes += num(unknown.n);
  }
}

async function resolveClasses(c: Ctx): Promise<void> {
  await run(
    c,
    `UPDATE or_classes s SET prior_status = r.status, prior_digest = r.digest, created_here = r.created_here,
            course_id = CASE WHEN co.id IS NOT NULL THEN co.id END
       FROM oneroster_records r LEFT JOIN courses co ON co.id = r.course_id AND co.deleted_at IS NULL
      WHERE r.tenant_id = $1 AND r.kind = 'class' AND r.sourced_id = s.sourced_id`,
    [c.tenantId],
  );
  await run(
    c,
    `UPDATE or_classes s SET course_id = co.id FROM courses co
      WHERE s.course_id IS NULL AND s.status = 'active' AND co.tenant_id = $1 AND co.external_key = s.sourced_id AND co.deleted_at IS NULL`,
    [c.tenantId],
  );
}

async function resolveUsers(c: Ctx): Promise<void> {
  const { tenantId } = c;
  // 1. The person this sourcedId already maps to.
  await run(
    c,
    `UPDATE or_users s SET prior_status = r.status, prior_digest = r.digest, prior_person = r.person_id,
            person_id = CASE WHEN r.status = 'active' AND p.id IS NOT NULL THEN p.id END,
            matched_by = CASE WHEN r.status = 'active' AND p.id IS NOT NULL THEN 'link' END
       FROM oneroster_records r LEFT JOIN people p ON p.id = r.person_id AND ${LIVE}
      WHERE r.tenant_id = $1 AND r.kind = 'user' AND r.sourced_id = s.sourced_id`,
    [tenantId],
  );
  // 2-3. Strong keys (unique per tenant among live people): externalId = sourcedId, userName = username.
  await run(
    c,
    `UPDATE or_users s SET person_id = p.id, matched_by = 'sourcedId' FROM people p
      WHERE s.person_id IS NULL AND s.status = 'active' AND p.tenant_id = $1 AND p.external_id = s.sourced_id AND ${LIVE}`,
    [tenantId],
  );
  await run(
    c,
    `UPDATE or_users s SET person_id = p.id, matched_by = 'username' FROM people p
      WHERE s.person_id IS NULL AND s.status = 'active' AND s.username IS NOT NULL
        AND p.tenant_id = $1 AND lower(p.user_name) = lower(s.username) AND p.user_name IS NOT NULL AND p.status <> 'merged' AND ${LIVE}`,
    [tenantId],
  );
  // 4-5. Weak keys: userIds against externalId/userName, then email; only people no other
  // OneRoster user holds, and only when exactly one person fits.
  const unlinked = `NOT EXISTS (SELECT 1 FROM oneroster_records r WHERE r.tenant_id = $1 AND r.kind = 'user' AND r.status = 'active' AND r.person_id = p.id AND r.sourced_id <> s.sourced_id)`;
  const weak: Array<[string, string, string]> = [
    [
      'userIds',
      'userIds',
      `SELECT s.line, p.id FROM or_users s CROSS JOIN LATERAL unnest(s.identifiers) AS x (id)
         JOIN people p ON p.tenant_id = $1 AND p.external_id = x.id AND p.status <> 'merged' AND ${LIVE}
        WHERE s.person_id IS NULL AND s.status = 'active' AND ${unlinked}
       UNION
       SELECT s.line, p.id FROM or_users s CROSS JOIN LATERAL unnest(s.identifiers) AS x (id)
         JOIN people p ON p.tenant_id = $1 AND lower(p.user_name) = lower(x.id) AND p.user_name IS NOT NULL AND p.status <> 'merged' AND ${LIVE}
        WHERE s.person_id IS NULL AND s.status = 'active' AND ${unlinked}`,
    ],
    [
      'email',
      'email',
      `SELECT s.line, p.id FROM or_users s JOIN people p ON p.tenant_id = $1 AND p.primary_email = s.email AND ${LIVE}
        WHERE s.person_id IS NULL AND s.status = 'active' AND s.email IS NOT NULL AND ${unlinked}
       UNION
       SELECT s.line, p.id FROM or_users s JOIN person_emails e ON e.tenant_id = $1 AND e.value_lower = s.email
         JOIN people p ON p.id = e.person_id AND ${LIVE}
        WHERE s.person_id IS NULL AND s.status = 'active' AND s.email IS NOT NULL AND ${unlinked}`,
    ],
  ];
  // Statistics as they are now (most rows resolved by a link on a re-import): the planner needs them.
  await run(c, 'ANALYZE or_users', []);
  for (const [matchedBy, column, candidates] of weak) {
    const [open] = await q<{ n: string }>(
      c,
      `SELECT count(*) AS n FROM or_users WHERE person_id IS NULL AND status = 'active'`,
      [],
    );
    if (num(open.n) === 0) break;
    const ambiguous = await q<{ line: number; n: string }>(
      c,
      `SELECT line, count(*) AS n FROM (${candidates}) m GROUP BY line HAVING count(*) > 1 ORDER BY line LIMIT ${MAX_ERRORS_PER_CHECK}`,
      [tenantId],
    );
    for (const a of ambiguous)
      c.errors.push({
        file: c.nameOf('users'),
        line: a.line,
        column,
        message: `matches ${a.n} people; give a username or userIds that names one of them`,
      });
    await run(
      c,
      `UPDATE or_users s SET person_id = m.id, matched_by = $2
         FROM (SELECT line, (array_agg(id))[1] AS id FROM (${candidates}) c GROUP BY line HAVING count(*) = 1) m
        WHERE m.line = s.line AND s.person_id IS NULL`,
      [tenantId, matchedBy],
    );
  }
  // Two users of the bundle that are one person, or a person another live OneRoster user already holds.
  const twice = await q<{ line: number; first: number }>(
    c,
    `SELECT line, first FROM (SELECT line, first_value(line) OVER (PARTITION BY person_id ORDER BY line) AS first,
            row_number() OVER (PARTITION BY person_id ORDER BY line) AS n FROM or_users WHERE person_id IS NOT NULL AND status = 'active') x
      WHERE n > 1 ORDER BY line LIMIT ${MAX_ERRORS_PER_CHECK}`,
    [],
  );
  for (const d of twice)
    c.errors.push({
      file: c.nameOf('users'),
      line: d.line,
      column: null,
      message: `the same person as line ${d.first}`,
    });
  const sameName = await q<{ line: number; first: number }>(
    c,
    `SELECT line, first FROM (SELECT line, first_value(line) OVER (PARTITION BY lower(username) ORDER BY line) AS first,
            row_number() OVER (PARTITION BY lower(username) ORDER BY line) AS n FROM or_users WHERE username IS NOT NULL AND status = 'active') x
      WHERE n > 1 ORDER BY line LIMIT ${MAX_ERRORS_PER_CHECK}`,
    [],
  );
  for (const d of sameName)
    c.errors.push({
      file: c.nameOf('users'),
      line: d.line,
      column: 'username',
      message: `also the username of line ${d.first}`,
    });
  const held = await q<{ line: number; other: string }>(
    c,
    `SELECT s.line, r.sourced_id AS other FROM or_users s
       JOIN oneroster_records r ON r.tenant_id = $1 AND r.kind = 'user' AND r.status = 'active' AND r.person_id = s.person_id AND r.sourced_id <> s.sourced_id
      WHERE s.status = 'active' AND s.person_id IS DISTINCT FROM s.prior_person
        AND NOT EXISTS (SELECT 1 FROM or_gone g WHERE g.kind = 'user' AND g.sourced_id = r.sourced_id)
      ORDER BY s.line LIMIT ${MAX_ERRORS_PER_CHECK}`,
    [tenantId],
  );
  for (const h of held)
    c.errors.push({
      file: c.nameOf('users'),
      line: h.line,
      column: 'sourcedId',
      message: `this person is already OneRoster user "${h.other}"`,
    });
  // A roster-owned person renamed to a username someone else holds.
  const taken = await q<{ line: number; username: string }>(
    c,
    `SELECT s.line, s.username FROM or_users s
       JOIN people p ON p.tenant_id = $1 AND lower(p.user_name) = lower(s.username) AND p.user_name IS NOT NULL AND p.status <> 'merged' AND ${LIVE}
      WHERE s.status = 'active' AND s.person_id IS NOT NULL AND s.digest IS DISTINCT FROM s.prior_digest AND p.id <> s.person_id
      ORDER BY s.line LIMIT ${MAX_ERRORS_PER_CHECK}`,
    [tenantId],
  );
  for (const x of taken)
    c.errors.push({
      file: c.nameOf('users'),
      line: x.line,
      column: 'username',
      message: `"${x.username}" is the username of another person`,
    });
}

/** Removed classes and users: their records leave, their enrollments end; roster-made people are deprovisioned. */
async function removeGone(c: Ctx): Promise<void> {
  const [del] = await q<{ n: string }>(
    c,
    `WITH d AS (UPDATE oneroster_records r SET status = 'deleted', import_id = $2, updated_at = now()
                  FROM or_gone g WHERE r.tenant_id = $1 AND r.kind = g.kind AND r.sourced_id = g.sourced_id RETURNING 1)
     SELECT count(*) AS n FROM d`,
    [c.tenantId, c.importId],
  );
  c.summary.records.deleted += num(del.n);
  // People of removed users, unless a user of this bundle still maps to them.
  const leaving = await q<PersonAttrs & { roster: boolean }>(
    c,
    `SELECT p.id, p.tenant_id AS "tenantId", p.status, p.user_name AS "userName", p.external_id AS "externalId",
            p.primary_email AS "primaryEmail", p.display_name AS "displayName", p.active, p.source, (p.source = 'roster') AS roster
       FROM people p WHERE p.tenant_id = $1 AND ${LIVE}
        AND p.id IN (SELECT person_id FROM or_gone WHERE kind = 'user' AND person_id IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM or_users s WHERE s.person_id = p.id AND s.status = 'active')
      ORDER BY p.id FOR UPDATE`,
    [c.tenantId],
  );
  for (const person of leaving) {
    if (person.roster) {
      await deprovisionPerson(c.store, c.t, c.actor, person);
      c.summary.people.deprovisioned++;
    } else c.summary.people.unlinked++;
  }
  // People of other doors stay; that the roster let go of them is audited.
  await audit(
    c,
    `SELECT 'person.oneroster_unlink' AS action, 'person' AS target_type, g.person_id::text AS target_id,
            jsonb_build_object('sourcedId', g.sourced_id) AS before, NULL::jsonb AS after
       FROM or_gone g JOIN people p ON p.id = g.person_id
      WHERE g.kind = 'user' AND p.source <> 'roster' AND NOT EXISTS (SELECT 1 FROM or_users s WHERE s.person_id = p.id AND s.status = 'active')`,
  );
}

async function upsertRecords(c: Ctx, kind: string, from: string): Promise<void> {
  const [r] = await q<{ created: string; updated: string }>(
    c,
    `WITH u AS (
       INSERT INTO oneroster_records (tenant_id, kind, sourced_id, status, digest, person_id, course_id, created_here, import_id)
       SELECT * FROM (${from}) AS x (tenant_id, kind, sourced_id, status, digest, person_id, course_id, created_here, import_id)
        WHERE NOT EXISTS (SELECT 1 FROM oneroster_records r WHERE r.tenant_id = x.tenant_id AND r.kind = x.kind AND r.sourced_id = x.sourced_id
                            AND r.status = 'active' AND r.digest = x.digest AND r.person_id IS NOT DISTINCT FROM x.person_id
                            AND r.course_id IS NOT DISTINCT FROM x.course_id)
       ON CONFLICT (tenant_id, kind, sourced_id) DO UPDATE SET status = 'active', digest = EXCLUDED.digest,
         person_id = EXCLUDED.person_id, course_id = EXCLUDED.course_id, import_id = EXCLUDED.import_id, updated_at = now(),
         created_here = oneroster_records.created_here OR EXCLUDED.created_here
       WHERE oneroster_records.status <> 'active' OR oneroster_records.digest <> EXCLUDED.digest
          OR oneroster_records.person_id IS DISTINCT FROM EXCLUDED.person_id
          OR oneroster_records.course_id IS DISTINCT FROM EXCLUDED.course_id
       RETURNING (xmax = 0) AS inserted)
     SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated FROM u`,
    [c.tenantId, c.importId, kind],
  );
  c.summary.records.created += num(r.created);
  c.summary.records.updated += num(r.updated);
}

async function writeOthers(c: Ctx): Promise<void> {
  for (const kind of ['org', 'academicSession', 'course'])
    await upsertRecords(
      c,
      kind,
      `SELECT $1::uuid, $3::text, sourced_id, 'active', digest, NULL::uuid, NULL::uuid, false, $2::uuid FROM or_others WHERE kind = $3 AND status = 'active'`,
    );
}

async function audit(c: Ctx, sql: string, bind: unknown[] = []): Promise<void> {
  // Named SQL: audit events for a whole set of changes in one INSERT … SELECT (the same columns recordAudit writes).
  await run(
    c,
    `INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, before, after, request_id)
     SELECT $1, $2, x.action, x.target_type, x.target_id, x.before, x.after, $3 FROM (${sql}) x`,
    [c.tenantId, c.actor.actor, c.actor.requestId ?? null, ...bind],
  );
}

async function writeClasses(c: Ctx): Promise<void> {
  const [created] = await q<{ n: string }>(
    c,
    `WITH ins AS (INSERT INTO courses (tenant_id, title, external_key)
                  SELECT $1, title, sourced_id FROM or_classes WHERE status = 'active' AND course_id IS NULL RETURNING id, external_key),
          u AS (UPDATE or_classes s SET course_id = ins.id, created_here = true, was_created = true FROM ins
                 WHERE s.sourced_id = ins.external_key AND s.status = 'active' RETURNING 1)
     SELECT count(*) AS n FROM u`,
    [c.tenantId],
  );
  c.summary.courses.created = num(created.n);
  await audit(
    c,
    `SELECT 'course.create' AS action, 'course' AS target_type, course_id::text AS target_id, NULL::jsonb AS before,
            jsonb_build_object('id', course_id, 'title', title, 'externalKey', sourced_id, 'via', 'oneroster') AS after
       FROM or_classes WHERE was_created`,
  );
  // Titles of courses the roster made follow the class; courses made elsewhere keep theirs.
  const [updated] = await q<{ n: string }>(
    c,
    `WITH cur AS (SELECT s.course_id, s.title, co.title AS old_title FROM or_classes s JOIN courses co ON co.id = s.course_id
                   WHERE s.status = 'active' AND s.created_here AND NOT s.was_created AND co.title <> s.title),
          upd AS (UPDATE courses co SET title = cur.title, updated_at = now() FROM cur WHERE co.id = cur.course_id RETURNING co.id),
          au AS (INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, before, after, request_id)
                 SELECT $1, $2, 'course.update', 'course', cur.course_id::text, jsonb_build_object('title', cur.old_title),
                        jsonb_build_object('title', cur.title, 'via', 'oneroster'), $3 FROM cur)
     SELECT count(*) AS n FROM upd`,
    [c.tenantId, c.actor.actor, c.actor.requestId ?? null],
  );
  c.summary.courses.updated = num(updated.n);
  await upsertRecords(
    c,
    'class',
    `SELECT $1::uuid, $3::text, sourced_id, 'active', digest, NULL::uuid, course_id, created_here, $2::uuid FROM or_classes WHERE status = 'active'`,
  );
}

async function writeUsers(c: Ctx): Promise<void> {
  const { tenantId } = c;
  const [fresh] = await q<{ n: string }>(
    c,
    `SELECT count(*) AS n FROM or_users WHERE status = 'active' AND person_id IS NULL`,
    [],
  );
  const wanted = num(fresh.n);
  if (wanted > 0) {
    const seats = await seatsLeft(c.store, c.t, tenantId);
    if (seats && seats.left < wanted) throw new SeatLimitError(seats.limit);
  }
  const [created] = await q<{ n: string }>(
    c,
    `WITH ins AS (
       INSERT INTO people (tenant_id, status, source, user_name, external_id, primary_email, given_name, family_name, display_name, active)
       SELECT $1, CASE WHEN enabled THEN 'provisioned' ELSE 'suspended' END, 'roster', username, sourced_id, email, given_name,
              family_name, NULLIF(concat_ws(' ', given_name, family_name), ''), enabled
         FROM or_users WHERE status = 'active' AND person_id IS NULL
       RETURNING id, external_id),
          u AS (UPDATE or_users s SET person_id = ins.id, was_created = true, matched_by = 'created' FROM ins
                 WHERE s.sourced_id = ins.external_id AND s.status = 'active' RETURNING 1)
     SELECT count(*) AS n FROM u`,
    [tenantId],
  );
  c.summary.people.created = num(created.n);
  await run(
    c,
    `INSERT INTO person_emails (tenant_id, person_id, value, type, is_primary, position)
     SELECT $1, person_id, email, NULL, true, 0 FROM or_users WHERE was_created AND email IS NOT NULL`,
    [tenantId],
  );
  await audit(
    c,
    `SELECT 'person.create' AS action, 'person' AS target_type, person_id::text AS target_id, NULL::jsonb AS before,
            jsonb_build_object('id', person_id, 'status', CASE WHEN enabled THEN 'provisioned' ELSE 'suspended' END, 'userName', username,
              'externalId', sourced_id, 'primaryEmail', email, 'displayName', NULLIF(concat_ws(' ', given_name, family_name), ''),
              'active', enabled, 'source', 'roster') AS after
       FROM or_users WHERE was_created`,
  );
  // An existing person newly mapped to this OneRoster user: an identity decision, audited.
  const [linked] = await q<{ n: string }>(
    c,
    `SELECT count(*) AS n FROM or_users WHERE status = 'active' AND NOT was_created AND person_id IS DISTINCT FROM prior_person`,
    [],
  );
  c.summary.people.linked = num(linked.n);
  await audit(
    c,
    `SELECT 'person.oneroster_link' AS action, 'person' AS target_type, person_id::text AS target_id,
            CASE WHEN prior_person IS NULL THEN NULL ELSE jsonb_build_object('personId', prior_person) END AS before,
            jsonb_build_object('sourcedId', sourced_id, 'matchedBy', matched_by) AS after
       FROM or_users WHERE status = 'active' AND NOT was_created AND person_id IS DISTINCT FROM prior_person`,
  );
  // People the roster made follow their user's record; people of other doors keep their attributes.
  const [updated] = await q<{ n: string }>(
    c,
    `WITH cur AS (
       SELECT s.person_id, s.username, s.email, s.given_name, s.family_name, s.enabled,
              NULLIF(concat_ws(' ', s.given_name, s.family_name), '') AS display_name,
              CASE WHEN NOT s.enabled THEN 'suspended' WHEN p.status = 'suspended' THEN
                (CASE WHEN p.first_launch_at IS NULL THEN 'provisioned' ELSE 'active' END) ELSE p.status END AS new_status,
              jsonb_build_object('status', p.status, 'userName', p.user_name, 'primaryEmail', p.primary_email,
                'givenName', p.given_name, 'familyName', p.family_name, 'active', p.active) AS before
         FROM or_users s JOIN people p ON p.id = s.person_id
        WHERE s.status = 'active' AND NOT s.was_created AND p.source = 'roster' AND s.digest IS DISTINCT FROM s.prior_digest
          AND (p.user_name IS DISTINCT FROM s.username OR p.primary_email IS DISTINCT FROM s.email
            OR p.given_name IS DISTINCT FROM s.given_name OR p.family_name IS DISTINCT FROM s.family_name OR p.active <> s.enabled)),
     upd AS (
       UPDATE people p SET user_name = cur.username, primary_email = cur.email, given_name = cur.given_name, family_name = cur.family_name,
              display_name = cur.display_name, active = cur.enabled, status = cur.new_status, version = p.version + 1,
              updated_at = clock_timestamp()
         FROM cur WHERE p.id = cur.person_id RETURNING p.id),
     mark AS (UPDATE or_users s SET was_updated = true FROM cur WHERE s.person_id = cur.person_id AND s.status = 'active' RETURNING 1),
     au AS (
       INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, before, after, request_id)
       SELECT $1, $2, CASE WHEN (cur.before->>'active')::boolean AND NOT cur.enabled THEN 'person.suspend'
                           WHEN NOT (cur.before->>'active')::boolean AND cur.enabled THEN 'person.unsuspend' ELSE 'person.update' END,
              'person', cur.person_id::text, cur.before,
              jsonb_build_object('status', cur.new_status, 'userName', cur.username, 'primaryEmail', cur.email,
                'givenName', cur.given_name, 'familyName', cur.family_name, 'active', cur.enabled, 'via', 'oneroster'), $3
         FROM cur)
     SELECT count(*) AS n FROM upd`,
    [tenantId, c.actor.actor, c.actor.requestId ?? null],
  );
  c.summary.people.updated = num(updated.n);
  await run(
    c,
    `DELETE FROM person_emails e USING or_users s WHERE e.tenant_id = $1 AND e.person_id = s.person_id AND s.was_updated`,
    [tenantId],
  );
  await run(
    c,
    `INSERT INTO person_emails (tenant_id, person_id, value, type, is_primary, position)
     SELECT $1, person_id, email, NULL, true, 0 FROM or_users WHERE was_updated AND email IS NOT NULL`,
    [tenantId],
  );
  await upsertRecords(
    c,
    'user',
    `SELECT $1::uuid, $3::text, sourced_id, 'active', digest, person_id, NULL::uuid, was_created, $2::uuid FROM or_users WHERE status = 'active'`,
  );
}

/**
 * Each active enrollment's person and course: by then every active user and class of the bundle
 * has its record, so the records (this bundle's and earlier imports') are the maps. Enrollments
 * naming neither are line errors.
 */
async function resolveEnrollments(c: Ctx): Promise<void> {
  const { tenantId } = c;
  await run(
    c,
    `CREATE TEMP TABLE or_user_map ON COMMIT DROP AS SELECT sourced_id, person_id FROM oneroster_records
      WHERE tenant_id = $1 AND kind = 'user' AND status = 'active' AND person_id IS NOT NULL`,
    [tenantId],
  );
  await run(
    c,
    `CREATE TEMP TABLE or_class_map ON COMMIT DROP AS SELECT sourced_id, course_id FROM oneroster_records
      WHERE tenant_id = $1 AND kind = 'class' AND status = 'active' AND course_id IS NOT NULL`,
    [tenantId],
  );
  await run(c, 'CREATE UNIQUE INDEX ON or_user_map (sourced_id)', []);
  await run(c, 'CREATE UNIQUE INDEX ON or_class_map (sourced_id)', []);
  await run(c, 'ANALYZE or_user_map, or_class_map', []);
  const unresolved = await q<{
    line: number;
    user_sourced_id: string;
    class_sourced_id: string;
    p: boolean;
    co: boolean;
  }>(
    c,
    `SELECT e.line, e.user_sourced_id, e.class_sourced_id, u.person_id IS NOT NULL AS p, m.course_id IS NOT NULL AS co
       FROM or_enrollments e LEFT JOIN or_user_map u ON u.sourced_id = e.user_sourced_id
       LEFT JOIN or_class_map m ON m.sourced_id = e.class_sourced_id
      WHERE e.status = 'active' AND (u.person_id IS NULL OR m.course_id IS NULL) ORDER BY e.line LIMIT ${MAX_ERRORS_PER_CHECK}`,
    [],
  );
  for (const u of unresolved) {
    if (!u.p)
      c.errors.push({
        file: c.nameOf('enrollments'),
        line: u.line,
        column: 'userSourcedId',
        message: `no user "${u.user_sourced_id}" in ${c.nameOf('users')} or an earlier import`,
      });
    if (!u.co)
      c.errors.push({
        file: c.nameOf('enrollments'),
        line: u.line,
        column: 'classSourcedId',
        message: `no class "${u.class_sourced_id}" in ${c.nameOf('classes')} or an earlier import`,
      });
  }
}

/** The active enrollments of the bundle with their person and course. */
const ENROLLMENTS = `(SELECT e.sourced_id, e.digest, e.class_sourced_id, e.user_sourced_id, e.role, u.person_id, m.course_id
   FROM or_enrollments e JOIN or_user_map u ON u.sourced_id = e.user_sourced_id JOIN or_class_map m ON m.sourced_id = e.class_sourced_id
  WHERE e.status = 'active')`;

async function writeEnrollments(c: Ctx): Promise<void> {
  const { tenantId, importId } = c;
  const bulk = c.modes.enrollments === 'bulk';
  const present = c.modes.enrollments !== 'absent';
  // Memberships an enrollment leaves when it moves to another person or class.
  await run(
    c,
    `INSERT INTO or_pairs SELECT oe.person_id, oe.course_id FROM oneroster_enrollments oe JOIN ${ENROLLMENTS} s ON s.sourced_id = oe.sourced_id
      WHERE oe.tenant_id = $1 AND oe.status = 'active' AND (oe.person_id <> s.person_id OR oe.course_id <> s.course_id)`,
    [tenantId],
  );
  const [up] = await q<{ created: string; updated: string }>(
    c,
    `WITH u AS (
       INSERT INTO oneroster_enrollments (tenant_id, sourced_id, status, digest, class_sourced_id, user_sourced_id, role, person_id, course_id, import_id)
       SELECT $1, sourced_id, 'active', digest, class_sourced_id, user_sourced_id, role, person_id, course_id, $2 FROM ${ENROLLMENTS} s
        WHERE NOT EXISTS (SELECT 1 FROM oneroster_enrollments oe WHERE oe.tenant_id = $1 AND oe.sourced_id = s.sourced_id
                            AND oe.status = 'active' AND oe.digest = s.digest AND oe.person_id = s.person_id AND oe.course_id = s.course_id)
       ON CONFLICT (tenant_id, sourced_id) DO UPDATE SET status = 'active', digest = EXCLUDED.digest, class_sourced_id = EXCLUDED.class_sourced_id,
         user_sourced_id = EXCLUDED.user_sourced_id, role = EXCLUDED.role, person_id = EXCLUDED.person_id, course_id = EXCLUDED.course_id,
         import_id = EXCLUDED.import_id, updated_at = now()
       WHERE oneroster_enrollments.status <> 'active' OR oneroster_enrollments.digest <> EXCLUDED.digest
          OR oneroster_enrollments.person_id <> EXCLUDED.person_id OR oneroster_enrollments.course_id <> EXCLUDED.course_id
       RETURNING (xmax = 0) AS inserted, person_id, course_id),
          p AS (INSERT INTO or_pairs SELECT person_id, course_id FROM u)
     SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated FROM u`,
    [tenantId, importId],
  );
  c.summary.records.created += num(up.created);
  c.summary.records.updated += num(up.updated);
  // Enrollments that leave: absent from a bulk file, tobedeleted, or of a removed user or class.
  const [gone] = await q<{ n: string }>(
    c,
    `WITH g AS (
       UPDATE oneroster_enrollments oe SET status = 'deleted', import_id = $2, updated_at = now()
        WHERE oe.tenant_id = $1 AND oe.status = 'active' AND (
          ($3 AND NOT EXISTS (SELECT 1 FROM or_enrollments s WHERE s.sourced_id = oe.sourced_id AND s.status = 'active'))
          OR ($4 AND EXISTS (SELECT 1 FROM or_enrollments s WHERE s.sourced_id = oe.sourced_id AND s.status = 'tobedeleted'))
          OR EXISTS (SELECT 1 FROM or_gone g WHERE g.kind = 'user' AND g.sourced_id = oe.user_sourced_id)
          OR EXISTS (SELECT 1 FROM or_gone g WHERE g.kind = 'class' AND g.sourced_id = oe.class_sourced_id))
        RETURNING oe.person_id, oe.course_id),
          p AS (INSERT INTO or_pairs SELECT person_id, course_id FROM g)
     SELECT count(*) AS n FROM g`,
    [tenantId, importId, bulk, present],
  );
  c.summary.records.deleted += num(gone.n);
  const [unknown] = await q<{ n: string }>(
    c,
    `SELECT count(*) AS n FROM or_enrollments s WHERE s.status = 'tobedeleted'
       AND NOT EXISTS (SELECT 1 FROM oneroster_enrollments oe WHERE oe.tenant_id = $1 AND oe.sourced_id = s.sourced_id)`,
    [tenantId],
  );
  c.summary.unknownDeletes += num(unknown.n);
}

/** The memberships of every (person, course) an enrollment change touched: roles = their active enrollments' roles. */
async function writeMemberships(c: Ctx): Promise<void> {
  const { tenantId } = c;
  await run(
    c,
    `CREATE TEMP TABLE or_plan ON COMMIT DROP AS
     WITH pairs AS (SELECT DISTINCT person_id, course_id FROM or_pairs),
          roles AS (SELECT oe.person_id, oe.course_id, array_agg(DISTINCT oe.role ORDER BY oe.role) AS roles
                      FROM oneroster_enrollments oe JOIN pairs pr ON pr.person_id = oe.person_id AND pr.course_id = oe.course_id
                     WHERE oe.tenant_id = $1 AND oe.status = 'active' GROUP BY oe.person_id, oe.course_id),
          want AS (SELECT pr.person_id, pr.course_id, COALESCE(r.roles, '{}'::text[]) AS roles
                     FROM pairs pr LEFT JOIN roles r ON r.person_id = pr.person_id AND r.course_id = pr.course_id)
     SELECT w.person_id, w.course_id, w.roles, m.id AS membership_id, m.roles AS old_roles, m.status AS old_status, m.source AS old_source,
            CASE WHEN cardinality(w.roles) > 0 AND m.id IS NULL THEN 'add'
                 WHEN cardinality(w.roles) > 0 AND (m.status <> 'active' OR ARRAY(SELECT unnest(m.roles) ORDER BY 1) <> w.roles) THEN 'update'
                 WHEN cardinality(w.roles) = 0 AND m.id IS NOT NULL AND m.status = 'active' AND m.source = 'roster' THEN 'end'
            END AS action
       FROM want w LEFT JOIN course_memberships m ON m.tenant_id = $1 AND m.course_id = w.course_id AND m.person_id = w.person_id`,
    [tenantId],
  );
  await run(
    c,
    `INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source)
     SELECT $1, course_id, person_id, roles, 'active', 'roster' FROM or_plan WHERE action = 'add'
     ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = 'active', updated_at = now()`,
    [tenantId],
  );
  await run(
    c,
    `UPDATE course_memberships m SET roles = p.roles, status = 'active', updated_at = now() FROM or_plan p
      WHERE p.action = 'update' AND m.id = p.membership_id`,
    [],
  );
  await run(
    c,
    `UPDATE course_memberships m SET status = 'inactive', updated_at = now() FROM or_plan p
      WHERE p.action = 'end' AND m.id = p.membership_id`,
    [],
  );
  const counts = await q<{ action: string; n: string }>(
    c,
    `SELECT action, count(*) AS n FROM or_plan WHERE action IS NOT NULL GROUP BY action`,
    [],
  );
  for (const r of counts) {
    if (r.action === 'add') c.summary.memberships.added = num(r.n);
    if (r.action === 'update') c.summary.memberships.updated = num(r.n);
    if (r.action === 'end') c.summary.memberships.ended = num(r.n);
  }
  await audit(
    c,
    `SELECT CASE WHEN action = 'end' THEN 'membership.end' ELSE 'membership.set' END AS action, 'course_person' AS target_type,
            course_id::text || '/' || person_id::text AS target_id,
            CASE WHEN membership_id IS NULL THEN NULL ELSE jsonb_build_object('courseId', course_id, 'personId', person_id,
              'roles', to_jsonb(old_roles), 'status', old_status) END AS before,
            jsonb_build_object('courseId', course_id, 'personId', person_id,
              'roles', to_jsonb(CASE WHEN action = 'end' THEN old_roles ELSE roles END),
              'status', CASE WHEN action = 'end' THEN 'inactive' ELSE 'active' END, 'via', 'oneroster') AS after
       FROM or_plan WHERE action IS NOT NULL`,
  );
}
