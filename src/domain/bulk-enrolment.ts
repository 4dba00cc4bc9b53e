import type { Transaction } from 'sequelize';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { AppError, ForbiddenError, ValidationError } from '../errors.js';
import { getCourse, type CourseView } from './courses.js';
import type { InviteSettings } from './invitations.js';
import {
  createPlaceholders,
  findByRefs,
  isValidEmail,
  lockRefs,
  refKey,
  refString,
  type PersonRef,
  type PersonSummary,
} from './person-reference.js';
import {
  assertCanManage,
  assertManagerRemains,
  catalogue,
  knownRoles,
  roleDefaults,
  roleName,
  writeGrants,
  type Principal,
} from './privileges/index.js';
import { recordAuditBatch, type AuditBatchEntry } from './audit.js';
import { seatsLeft } from './people.js';
import { exec, select } from '../db/sql.js';
import { changedOnCommit } from './change-signal.js';

/**
 * Bulk pre-enrolment: up to 10,000 rows {email|key, roles, allow, deny} into one course.
 * Per-row status as Open edX's program enrollment API reports it; `outcome` says whether all, some
 * or none of the rows succeeded (the API answers 200, 207, 422 for them; 413 for too many rows).
 *   created   a live person got a new membership
 *   updated   a live person's existing membership or grants changed
 *   unchanged a live person already had exactly this membership and these grants (a retry)
 *   pending   the person is an invited placeholder: it all takes effect at their first launch
 *   duplicate the row names a person an earlier row already named
 *   conflict  the email/key matches several people (candidates listed), or the row's write failed
 *   invalid   the row is malformed (email, key, unknown role or privilege, allow ∩ deny…)
 * Atomic per row and fast: rows are validated first, then written chunk by chunk with set-based
 * statements inside a savepoint; if a chunk's statements fail, that chunk is redone one row per
 * savepoint so one bad row never takes others with it. Idempotent: a retry finds the people the
 * first run created (advisory locks per email/key serialise concurrent runs) and rewrites nothing
 * that is already as asked.
 */
type TenantCourse = CourseView & { tenantId: string };
export const BULK_MAX_ROWS = 10_000;
const CHUNK = 2_000;

export type RowStatus = 'created' | 'updated' | 'unchanged' | 'pending' | 'duplicate' | 'conflict' | 'invalid';
export const SUCCESS: RowStatus[] = ['created', 'updated', 'unchanged', 'pending'];

export interface BulkRowResult {
  row: number;
  ref: string | null;
  status: RowStatus;
  personId?: string;
  error?: string;
  candidates?: PersonSummary[];
}
/** Whether every row succeeded, some did, or none did. */
export type BulkOutcome = 'all' | 'some' | 'none';
export interface BulkResult {
  outcome: BulkOutcome;
  courseId: string;
  summary: Record<RowStatus, number>;
  results: BulkRowResult[];
}

interface Prepared {
  row: number;
  ref: PersonRef;
  key: string;
  roles: string[] | null;
  grants: { allow: string[]; deny: string[] } | null;
}

export class TooManyRowsError extends AppError {
  constructor(n: number) {
    super('payload_too_large', `A bulk request takes at most ${BULK_MAX_ROWS} rows; this one has ${n}`, {
      details: { maxRows: BULK_MAX_ROWS, rows: n },
    });
  }
}

const strList = (v: unknown, name: string, max: number): string[] | null => {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.trim() === '' || x.length > 300))
    throw new Error(`${name} must be a list of names`);
  if (v.length > max) throw new Error(`${name}: at most ${max}`);
  return [...new Set((v as string[]).map((x) => x.trim()))];
};

export interface BulkOptions {
  invite?: InviteSettings;
  /** The baseline: every row through its own savepoint and statements, no batching. */
  rowAtATime?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export async function bulkEnrol(
  store: Store,
  principal: Principal,
  ctx: ActorContext,
  courseRef: string,
  body: unknown,
  options: BulkOptions = {},
): Promise<BulkResult> {
  const rows = Array.isArray(body) ? body : (body as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows)) throw new ValidationError('Expected {"rows": [...]} or an array of rows');
  if (rows.length > BULK_MAX_ROWS) throw new TooManyRowsError(rows.length);
  const tenantId = principal.tenantId;
  const course: TenantCourse = { ...(await getCourse(store, tenantId, courseRef)), tenantId };
  const results: BulkRowResult[] = new Array(rows.length);
  const validPrivileges = new Set((await catalogue(store, tenantId)).map((r) => r.key));
  const validRoles = new Set(await knownRoles(store, tenantId));

  // 1. Validate every row without touching the database again.
  const prepared: Prepared[] = [];
  const seen = new Map<string, number>();
  rows.forEach((raw, row) => {
    const fail = (error: string, ref: string | null = null) => (results[row] = { row, ref, status: 'invalid', error });
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail('row must be an object');
    const r = raw as Record<string, unknown>;
    const unknownFields = Object.keys(r).filter((k) => !['email', 'key', 'roles', 'allow', 'deny'].includes(k));
    if (unknownFields.length) return fail(`unknown field ${unknownFields.join(', ')}`);
    if ((r.email === undefined) === (r.key === undefined)) return fail('give exactly one of email or key');
    let ref: PersonRef;
    if (r.email !== undefined) {
      const email = typeof r.email === 'string' ? r.email.trim().toLowerCase() : '';
      if (!isValidEmail(email)) return fail(`malformed email "${String(r.email)}"`, `email:${String(r.email)}`);
      ref = { kind: 'email', email };
    } else {
      const key = typeof r.key === 'string' ? r.key.trim() : '';
      if (!key || key.length > 256) return fail('key must be 1-256 characters');
      ref = { kind: 'key', key };
    }
    const refText = refString(ref);
    let roles: string[] | null, allow: string[] | null, deny: string[] | null;
    try {
      roles = strList(r.roles, 'roles', 20);
      allow = strList(r.allow, 'allow', 200);
      deny = strList(r.deny, 'deny', 200);
    } catch (err) {
      return fail((err as Error).message, refText);
    }
    if (roles) {
      roles = [...new Set(roles.map(roleName))];
      const bad = roles.filter((x) => !validRoles.has(x));
      if (bad.length) return fail(`unknown role ${bad.join(', ')}; known: ${[...validRoles].join(', ')}`, refText);
    }
    const badPriv = [...(allow ?? []), ...(deny ?? [])].filter((p) => !validPrivileges.has(p));
    if (badPriv.length)
      return fail(`unknown privilege ${badPriv.join(', ')}; valid: ${[...validPrivileges].join(', ')}`, refText);
    if (allow && deny && allow.some((p) => deny!.includes(p)))
      return fail('a privilege cannot be both allowed and denied', refText);
    const key = refKey(ref);
    const first = seen.get(key);
    if (first !== undefined)
      return (results[row] = { row, ref: refText, status: 'duplicate', error: `same person as row ${first}` });
    seen.set(key, row);
    prepared.push({ row, ref, key, roles, grants: allow || deny ? { allow: allow ?? [], deny: deny ?? [] } : null });
  });

  // 2. Write, chunk by chunk, in one transaction.
  await inTransaction(store, async (t) => {
    const held = await assertCanManage(store, principal, course.id, t);
    let work = prepared;
    if (held) {
      if (!held.has('members.manage')) throw new ForbiddenError('Bulk enrolment needs members.manage in this course');
      const defaults = await roleDefaults(store, tenantId, t);
      work = prepared.filter((p) => {
        const wants = [
          ...(p.grants?.allow ?? []),
          ...(p.grants?.deny ?? []),
          ...(p.roles ?? []).flatMap((r) => defaults[r] ?? []),
        ];
        const missing = [...new Set(wants)].filter((x) => !held.has(x));
        if (missing.length)
          results[p.row] = {
            row: p.row,
            ref: refString(p.ref),
            status: 'invalid',
            error: `you cannot grant privileges you do not hold: ${missing.join(', ')}`,
          };
        return missing.length === 0;
      });
    }
    // All email/key locks first, then the grant writer's locks chunk by chunk: the order in locks.ts.
    await lockRefs(
      store,
      t,
      tenantId,
      work.map((p) => p.key),
    );
    const personRows = new Map<string, number>();
    let done = rows.length - work.length;
    options.onProgress?.(done, rows.length);
    for (let i = 0; i < work.length; i += CHUNK) {
      const chunk = work.slice(i, i + CHUNK);
      if (options.rowAtATime) {
        for (const p of chunk) await applyInSavepoint(store, t, ctx, course, [p], personRows, results, options, true);
      } else {
        const ok = await applyInSavepoint(store, t, ctx, course, chunk, personRows, results, options, false);
        if (!ok)
          for (const p of chunk) await applyInSavepoint(store, t, ctx, course, [p], personRows, results, options, true);
      }
      done += chunk.length;
      options.onProgress?.(done, rows.length);
    }
    await assertManagerRemains(store, principal, course.id, t);
    changedOnCommit(t, tenantId);
  });

  const summary: Record<RowStatus, number> = {
    created: 0,
    updated: 0,
    unchanged: 0,
    pending: 0,
    duplicate: 0,
    conflict: 0,
    invalid: 0,
  };
  for (const r of results) summary[r.status]++;
  const ok = results.filter((r) => SUCCESS.includes(r.status)).length;
  const outcome: BulkOutcome = ok === results.length ? 'all' : ok === 0 ? 'none' : 'some';
  return { outcome, courseId: course.id, summary, results };
}

let savepointSeq = 0;

/** Runs applyRows inside a savepoint; on failure rolls it back. A single row's failure becomes its `conflict`. */
async function applyInSavepoint(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  course: TenantCourse,
  items: Prepared[],
  personRows: Map<string, number>,
  results: BulkRowResult[],
  options: BulkOptions,
  single: boolean,
): Promise<boolean> {
  const sp = `bulk_${++savepointSeq}`;
  await exec(store, `SAVEPOINT ${sp}`, [], t);
  const staged = new Map<number, BulkRowResult>();
  const stagedPeople = new Map<string, number>();
  try {
    await applyRows(store, t, ctx, course, items, personRows, stagedPeople, staged, options);
    await exec(store, `RELEASE SAVEPOINT ${sp}`, [], t);
    for (const [row, r] of staged) results[row] = r;
    for (const [id, row] of stagedPeople) personRows.set(id, row);
    return true;
  } catch (err) {
    await exec(store, `ROLLBACK TO SAVEPOINT ${sp}`, [], t);
    if (!single) return false;
    const p = items[0];
    results[p.row] = {
      row: p.row,
      ref: refString(p.ref),
      status: 'conflict',
      error: err instanceof AppError ? err.message : 'could not be written; retry this row',
    };
    return true;
  }
}

/** The set-based core: resolve, create placeholders, upsert memberships, replace grants, audit. */
async function applyRows(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  course: TenantCourse,
  items: Prepared[],
  personRows: Map<string, number>,
  stagedPeople: Map<string, number>,
  out: Map<number, BulkRowResult>,
  options: BulkOptions,
): Promise<void> {
  const tenantId = course.tenantId;
  const found = await findByRefs(
    store,
    tenantId,
    items.filter((p) => p.ref.kind === 'email').map((p) => (p.ref as { email: string }).email),
    items.filter((p) => p.ref.kind === 'key').map((p) => (p.ref as { key: string }).key),
    t,
  );
  const toCreate: Prepared[] = [];
  const resolved: Array<{ p: Prepared; person: PersonSummary }> = [];
  for (const p of items) {
    const matches = found.get(p.key) ?? [];
    if (matches.length > 1) {
      out.set(p.row, {
        row: p.row,
        ref: refString(p.ref),
        status: 'conflict',
        error: `matches ${matches.length} people; use a person id`,
        candidates: matches,
      });
    } else if (matches.length === 1) resolved.push({ p, person: matches[0] });
    else toCreate.push(p);
  }
  // Placeholders take seats: rows past the tenant's limit are refused one by one, in row order.
  const seats = await seatsLeft(store, t, tenantId);
  if (seats && toCreate.length > seats.left)
    for (const p of toCreate.splice(seats.left))
      out.set(p.row, {
        row: p.row,
        ref: refString(p.ref),
        status: 'conflict',
        error: `the school's seat limit of ${seats.limit} people is reached`,
      });
  const created = await createPlaceholders(
    store,
    t,
    ctx,
    tenantId,
    toCreate.map((p) => p.ref),
    { invite: options.invite, courseId: course.id },
  );
  for (const p of toCreate) resolved.push({ p, person: created.get(p.key)! });

  // Two refs (an email and a key) can name the same person: the later row is the duplicate.
  resolved.sort((a, b) => a.p.row - b.p.row);
  const live: typeof resolved = [];
  for (const r of resolved) {
    const first = personRows.get(r.person.id) ?? stagedPeople.get(r.person.id);
    if (first !== undefined)
      out.set(r.p.row, {
        row: r.p.row,
        ref: refString(r.p.ref),
        status: 'duplicate',
        personId: r.person.id,
        error: `same person as row ${first}`,
      });
    else {
      stagedPeople.set(r.person.id, r.p.row);
      live.push(r);
    }
  }
  if (!live.length) return;
  const ids = live.map((r) => r.person.id);

  // Memberships: set roles where given; a row without roles enrols as Learner unless already enrolled.
  const existing = new Map(
    (
      await select<{ person_id: string; roles: string[]; status: string }>(
        store,
        'SELECT person_id, roles, status FROM course_memberships WHERE tenant_id = $1 AND course_id = $2 AND person_id = ANY($3::uuid[]) FOR UPDATE',
        [tenantId, course.id, ids],
        t,
      )
    ).map((m) => [m.person_id, m]),
  );
  const memberWrites: Array<{ personId: string; roles: string[] }> = [];
  const audits: AuditBatchEntry[] = [];
  for (const { p, person } of live) {
    const before = existing.get(person.id);
    const roles = p.roles ?? (before ? null : ['Learner']);
    if (!roles || (before && before.status === 'active' && before.roles.join() === roles.join())) continue;
    memberWrites.push({ personId: person.id, roles });
    audits.push({
      action: 'membership.set',
      targetType: 'course_person',
      targetId: `${course.id}/${person.id}`,
      before: before ? { courseId: course.id, personId: person.id, roles: before.roles, status: before.status } : null,
      after: { courseId: course.id, personId: person.id, roles, status: 'active' },
    });
  }
  if (memberWrites.length) {
    await exec(
      store,
      `INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source)
       SELECT $1, $2, p, ARRAY(SELECT jsonb_array_elements_text(r::jsonb)), 'active', 'bulk' FROM unnest($3::uuid[], $4::text[]) AS x (p, r)
       ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = 'active', updated_at = now()`,
      [tenantId, course.id, memberWrites.map((m) => m.personId), memberWrites.map((m) => JSON.stringify(m.roles))],
      t,
    );
  }

  await recordAuditBatch(store, t, ctx, tenantId, audits);

  // Grants: rows that name allow/deny get exactly those lists, through the one grant writer.
  const grantChanges = await writeGrants(
    store,
    t,
    ctx,
    { tenantId, courseId: course.id, kind: 'person' },
    live.filter((r) => r.p.grants).map((r) => ({ subjectId: r.person.id, lists: r.p.grants! })),
  );

  const rewritten = new Set(memberWrites.map((m) => m.personId));
  for (const { p, person } of live) {
    const changed = rewritten.has(person.id) || (grantChanges.get(person.id)?.changed.length ?? 0) > 0;
    const status: RowStatus =
      person.status === 'invited'
        ? 'pending'
        : !existing.has(person.id)
          ? 'created'
          : changed
            ? 'updated'
            : 'unchanged';
    out.set(p.row, { row: p.row, ref: refString(p.ref), status, personId: person.id });
  }
}
