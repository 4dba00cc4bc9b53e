import { QueryTypes, type Transaction } from 'sequelize';
import type { PersonAttrs, PersonStatus } from '../db/models.js';
import { isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../errors.js';
import { recordAudit } from './audit.js';
import { changedOnCommit } from './change-signal.js';
import { assertSeatAvailable, insertPerson, personAuditView } from './people.js';
import { revokePersonGrants } from './privileges/index.js';
import { UUID } from '../ids.js';

/**
 * Door 1 of DESIGN.md ("One person, three doors"): an identity provider pushes a person. The SCIM
 * layer parses the wire format; this module decides identity, status and history, inside the
 * caller's transaction.
 */

export interface ProvisionedEmail {
  value: string;
  type: string | null;
  primary: boolean;
}

/** What the IdP says about a person, already validated. `scim` holds every other attribute. */
export interface PersonInput {
  userName: string;
  externalId: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  active: boolean;
  emails: ProvisionedEmail[];
  scim: Record<string, unknown>;
}

export const PERSON_COLUMNS = `p.id, p.tenant_id AS "tenantId", p.status, p.user_name AS "userName", p.external_id AS "externalId",
  p.primary_email AS "primaryEmail", p.given_name AS "givenName", p.family_name AS "familyName", p.display_name AS "displayName",
  p.active, p.source, p.scim, p.version, p.first_launch_at AS "firstLaunchAt", p.merged_into AS "mergedInto",
  p.created_at AS "createdAt", p.updated_at AS "updatedAt", p.deleted_at AS "deletedAt"`;

/** People SCIM can see: live, not merged away, and not an admin's unadopted placeholder. */
export const SCIM_VISIBLE = `p.deleted_at IS NULL AND p.status <> 'merged' AND p.status <> 'invited'`;

const primaryEmailOf = (emails: ProvisionedEmail[]) =>
  (emails.find((e) => e.primary) ?? emails[0])?.value.toLowerCase() ?? null;

/** active=false suspends; active=true lifts a suspension back to what the person was. */
function statusFor(active: boolean, current: PersonStatus | null, firstLaunchAt: Date | null): PersonStatus {
  if (!active) return 'suspended';
  if (current === 'active' || current === 'provisioned') return current;
  return firstLaunchAt ? 'active' : 'provisioned';
}

const uniqueness = (input: PersonInput) =>
  new ConflictError(`A person with userName "${input.userName}" already exists`);

async function findLive(
  store: Store,
  t: Transaction,
  tenantId: string,
  where: string,
  bind: unknown[],
): Promise<PersonAttrs | undefined> {
  const rows = await store.sequelize.query<PersonAttrs>(
    `SELECT ${PERSON_COLUMNS} FROM people p WHERE p.tenant_id = $1 AND p.deleted_at IS NULL AND p.status <> 'merged' AND ${where} LIMIT 1 FOR UPDATE`,
    { bind: [tenantId, ...bind], type: QueryTypes.SELECT, transaction: t },
  );
  return rows[0];
}

async function findPlaceholderByExternalId(
  store: Store,
  t: Transaction,
  tenantId: string,
  externalId: string,
): Promise<PersonAttrs | undefined> {
  const rows = await store.sequelize.query<PersonAttrs>(
    `SELECT ${PERSON_COLUMNS} FROM people p WHERE p.tenant_id = $1 AND p.deleted_at IS NULL AND p.status = 'invited' AND p.external_id = $2 LIMIT 2 FOR UPDATE`,
    { bind: [tenantId, externalId], type: QueryTypes.SELECT, transaction: t },
  );
  return rows.length === 1 ? rows[0] : undefined;
}

export async function replaceEmails(
  store: Store,
  t: Transaction,
  tenantId: string,
  personId: string,
  emails: ProvisionedEmail[],
  isNew = false,
): Promise<void> {
  if (!isNew)
    await store.sequelize.query('DELETE FROM person_emails WHERE person_id = $1', { bind: [personId], transaction: t });
  if (emails.length === 0) return;
  await store.sequelize.query(
    `INSERT INTO person_emails (tenant_id, person_id, value, type, is_primary, position)
     SELECT $1, $2, u.value, u.type, u.is_primary, u.position - 1
     FROM unnest($3::text[], $4::text[], $5::boolean[]) WITH ORDINALITY AS u(value, type, is_primary, position)`,
    {
      bind: [tenantId, personId, emails.map((e) => e.value), emails.map((e) => e.type), emails.map((e) => e.primary)],
      transaction: t,
    },
  );
}

/**
 * Creates a person, or adopts an admin's `invited` placeholder with the same userName or externalId
 * (it keeps its id, and so its grants). A live person with the userName is a 409 uniqueness; so is
 * losing a race against a concurrent create of the same person (the unique index on
 * lower(user_name) decides: exactly one row wins).
 */
export async function provisionPerson(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  input: PersonInput,
): Promise<{ person: PersonAttrs; adopted: boolean }> {
  changedOnCommit(t, tenantId);
  // userName is unique among live people; externalId is not (RFC 7643 §3.1), so it only finds an
  // admin's placeholder to adopt, and only when exactly one placeholder carries it.
  const byUserName = await findLive(store, t, tenantId, 'lower(p.user_name) = lower($2)', [input.userName]);
  const match =
    byUserName ??
    (input.externalId ? await findPlaceholderByExternalId(store, t, tenantId, input.externalId) : undefined);
  try {
    if (match && match.status !== 'invited') throw uniqueness(input);
    if (match) {
      await assertSeatAvailable(store, t, tenantId);
      const person = await writePerson(store, t, tenantId, match, input, 'scim');
      await recordAudit(store, t, ctx, {
        tenantId,
        action: 'person.adopt',
        targetType: 'person',
        targetId: person.id,
        before: personAuditView(match),
        after: personAuditView(person),
      });
      return { person, adopted: true };
    }
    const person = await insertPerson(store, t, ctx, {
      tenantId,
      status: statusFor(input.active, null, null),
      source: 'scim',
      userName: input.userName,
      externalId: input.externalId,
      primaryEmail: primaryEmailOf(input.emails),
      givenName: input.givenName,
      familyName: input.familyName,
      displayName: input.displayName,
      active: input.active,
      scim: input.scim,
    });
    await replaceEmails(store, t, tenantId, person.id, input.emails, true);
    return { person, adopted: false };
  } catch (err) {
    if (isUniqueViolation(err)) throw uniqueness(input);
    throw err;
  }
}

/**
 * The common case of door 1 without a caller's transaction: a new person in a tenant without a
 * seat limit, with no live person of that userName and no placeholder with that externalId.
 * Concurrent creates are coalesced ("natural batching": whatever arrived while the previous
 * statement ran goes into the next one), and each batch is ONE statement in its own transaction, so one
 * statement and one commit serve several creates. Each row gets exactly what insertPerson + replaceEmails +
 * recordAudit write (same columns, same 'person.create' audit view and actor).
 *
 * It never decides an error: a row it cannot insert (userName taken, placeholder to adopt, seat
 * limit, lost race) resolves to null and the caller takes the transactional path, which answers
 * 409, adopts, or enforces the seat limit.
 */
interface PendingCreate {
  key: string;
  tenantId: string;
  input: PersonInput;
  ctx: ActorContext;
  resolve(person: PersonAttrs | null): void;
}
const MAX_BATCH = 200;
/** Statements in flight at once; more arrivals wait and form the next batch. */
const MAX_IN_FLIGHT = 2;

class CreateBatcher {
  private queue: PendingCreate[] = [];
  private inFlight = 0;
  constructor(private readonly store: Store) {}

  create(ctx: ActorContext, tenantId: string, input: PersonInput): Promise<PersonAttrs | null> {
    return new Promise((resolve) => {
      this.queue.push({ key: `${tenantId}:${input.userName.toLowerCase()}`, tenantId, input, ctx, resolve });
      if (this.inFlight < MAX_IN_FLIGHT) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.queue.length === 0) return;
    const batch: PendingCreate[] = [];
    const seen = new Set<string>();
    const rest: PendingCreate[] = [];
    for (const p of this.queue) {
      // Two creates of one userName never share a batch: the second waits for the first's outcome.
      if (batch.length < MAX_BATCH && !seen.has(p.key)) {
        batch.push(p);
        seen.add(p.key);
      } else rest.push(p);
    }
    this.queue = rest;
    this.inFlight++;
    try {
      const rows = await insertBatch(this.store, batch);
      const byKey = new Map(rows.map((r) => [`${r.tenantId}:${(r.userName ?? '').toLowerCase()}`, r]));
      fastCreateStats.written += rows.length;
      for (const p of batch) p.resolve(byKey.get(p.key) ?? null);
    } catch {
      fastCreateStats.failedBatches++;
      for (const p of batch) p.resolve(null); // the transactional path will give the real answer
    } finally {
      this.inFlight--;
      if (this.queue.length) void this.flush();
    }
  }
}

/** Counts for tests and metrics: how many creates the batch statement wrote, and batches that failed. */
export const fastCreateStats = { written: 0, failedBatches: 0 };

const batchers = new WeakMap<Store, CreateBatcher>();
export function provisionNewPersonFast(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  input: PersonInput,
): Promise<PersonAttrs | null> {
  let b = batchers.get(store);
  if (!b) batchers.set(store, (b = new CreateBatcher(store)));
  return b.create(ctx, tenantId, input);
}

const CREATE_BATCH_SQL = `WITH u AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[], $10::text[], $11::text[], $12::text[])
         AS u(tenant_id, status, user_name, external_id, primary_email, given_name, family_name, display_name, active, scim, actor, request_id)
     ), ins AS (
       INSERT INTO people AS p (tenant_id, status, source, user_name, external_id, primary_email, given_name, family_name, display_name, active, scim)
       SELECT u.tenant_id, u.status, 'scim', u.user_name, u.external_id, lower(u.primary_email), u.given_name, u.family_name, u.display_name, u.active, u.scim::jsonb
       FROM u JOIN tenants t ON t.id = u.tenant_id AND t.seat_limit IS NULL
       WHERE NOT EXISTS (SELECT 1 FROM people x WHERE x.tenant_id = u.tenant_id AND lower(x.user_name) = lower(u.user_name) AND x.deleted_at IS NULL AND x.status <> 'merged')
         AND (u.external_id IS NULL OR NOT EXISTS (SELECT 1 FROM people x WHERE x.tenant_id = u.tenant_id AND x.external_id = u.external_id AND x.status = 'invited' AND x.deleted_at IS NULL))
       ON CONFLICT DO NOTHING
       RETURNING ${PERSON_COLUMNS}
     ), em AS (
       INSERT INTO person_emails (tenant_id, person_id, value, type, is_primary, position)
       SELECT ins."tenantId", ins.id, e.value, e.type, e.is_primary, e.position
       FROM unnest($13::uuid[], $14::text[], $15::text[], $16::text[], $17::boolean[], $18::int[]) AS e(tenant_id, user_name, value, type, is_primary, position)
       JOIN ins ON ins."tenantId" = e.tenant_id AND ins."userName" = e.user_name
     ), au AS (
       INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, after, request_id)
       SELECT ins."tenantId", u.actor, 'person.create', 'person', ins.id::text,
         jsonb_build_object('id', ins.id, 'status', ins.status, 'userName', ins."userName", 'externalId', ins."externalId",
           'primaryEmail', ins."primaryEmail", 'displayName', ins."displayName", 'active', ins.active, 'source', ins.source), u.request_id
       FROM ins JOIN u ON u.tenant_id = ins."tenantId" AND lower(u.user_name) = lower(ins."userName")
     )
     SELECT * FROM ins`;

async function insertBatch(store: Store, batch: PendingCreate[]): Promise<PersonAttrs[]> {
  // Rows of one batch have distinct userNames per tenant (see flush), so (tenant, userName) as sent
  // identifies the person an email belongs to.
  const emails = batch.flatMap((p) =>
    p.input.emails.map((e, i) => ({ tenantId: p.tenantId, userName: p.input.userName, ...e, position: i })),
  );
  const values = [
    batch.map((p) => p.tenantId),
    batch.map((p) => statusFor(p.input.active, null, null)),
    batch.map((p) => p.input.userName),
    batch.map((p) => p.input.externalId),
    batch.map((p) => primaryEmailOf(p.input.emails)),
    batch.map((p) => p.input.givenName),
    batch.map((p) => p.input.familyName),
    batch.map((p) => p.input.displayName),
    batch.map((p) => p.input.active),
    batch.map((p) => JSON.stringify(p.input.scim)),
    batch.map((p) => p.ctx.actor),
    batch.map((p) => p.ctx.requestId ?? null),
    emails.map((e) => e.tenantId),
    emails.map((e) => e.userName),
    emails.map((e) => e.value),
    emails.map((e) => e.type),
    emails.map((e) => e.primary),
    emails.map((e) => e.position),
  ];
  // Its own transaction, so each tenant written is signalled after commit like every other write.
  return store.sequelize.transaction(async (t) => {
    const rows = await store.sequelize.query<PersonAttrs>(CREATE_BATCH_SQL, {
      bind: values,
      type: QueryTypes.SELECT,
      transaction: t,
    });
    for (const tenantId of new Set(rows.map((r) => r.tenantId))) changedOnCommit(t, tenantId);
    return rows;
  });
}

async function writePerson(
  store: Store,
  t: Transaction,
  tenantId: string,
  current: PersonAttrs,
  input: PersonInput,
  source?: 'scim',
): Promise<PersonAttrs> {
  const [rows] = (await store.sequelize.query(
    `UPDATE people p SET user_name = $3, external_id = $4, display_name = $5, given_name = $6, family_name = $7, active = $8,
       status = $9, primary_email = lower($10), scim = $11::jsonb, source = COALESCE($12, p.source),
       version = p.version + 1, updated_at = clock_timestamp()
     WHERE p.tenant_id = $1 AND p.id = $2 RETURNING ${PERSON_COLUMNS}`,
    {
      bind: [
        tenantId,
        current.id,
        input.userName,
        input.externalId,
        input.displayName,
        input.givenName,
        input.familyName,
        input.active,
        statusFor(input.active, current.status, current.firstLaunchAt),
        primaryEmailOf(input.emails),
        JSON.stringify(input.scim),
        source ?? null,
      ],
      transaction: t,
    },
  )) as [PersonAttrs[], unknown];
  await replaceEmails(store, t, tenantId, current.id, input.emails);
  return rows[0];
}

/** Locks a SCIM-visible person for a change; 404 otherwise, 412 when the caller's version is stale. */
export async function lockPerson(
  store: Store,
  t: Transaction,
  tenantId: string,
  id: string,
  ifMatch?: (version: number) => boolean,
): Promise<PersonAttrs> {
  if (!UUID.test(id)) throw new NotFoundError(`User ${id} not found`);
  const rows = await store.sequelize.query<PersonAttrs>(
    `SELECT ${PERSON_COLUMNS} FROM people p WHERE p.tenant_id = $1 AND p.id = $2 AND ${SCIM_VISIBLE} FOR UPDATE`,
    { bind: [tenantId, id], type: QueryTypes.SELECT, transaction: t },
  );
  if (!rows[0]) throw new NotFoundError(`User ${id} not found`);
  if (ifMatch && !ifMatch(rows[0].version))
    throw new PreconditionFailedError(`User ${id} has changed (version ${rows[0].version})`);
  return rows[0];
}

/** Full replace (PUT, and PATCH after the patch engine ran): every attribute comes from `input`. */
export async function updatePerson(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  current: PersonAttrs,
  input: PersonInput,
): Promise<PersonAttrs> {
  changedOnCommit(t, current.tenantId);
  try {
    const person = await writePerson(store, t, current.tenantId, current, input);
    const action =
      current.active && !person.active
        ? 'person.suspend'
        : !current.active && person.active
          ? 'person.unsuspend'
          : 'person.update';
    await recordAudit(store, t, ctx, {
      tenantId: current.tenantId,
      action,
      targetType: 'person',
      targetId: person.id,
      before: personAuditView(current),
      after: personAuditView(person),
    });
    return person;
  } catch (err) {
    if (isUniqueViolation(err)) throw uniqueness(input);
    throw err;
  }
}

/**
 * DELETE from the IdP: the person leaves (soft delete, status deprovisioned) but history and audit
 * stay; grants are revoked and group memberships end; the userName and externalId become free.
 */
export async function deprovisionPerson(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  current: PersonAttrs,
): Promise<void> {
  const tenantId = current.tenantId;
  changedOnCommit(t, tenantId);
  await store.sequelize.query(
    `UPDATE people SET deleted_at = clock_timestamp(), status = 'deprovisioned', active = false, version = version + 1, updated_at = clock_timestamp()
     WHERE tenant_id = $1 AND id = $2`,
    { bind: [tenantId, current.id], transaction: t },
  );
  const [groups] = (await store.sequelize.query(
    `DELETE FROM group_members WHERE tenant_id = $1 AND member_type = 'person' AND member_id = $2 RETURNING group_id`,
    { bind: [tenantId, current.id], transaction: t },
  )) as [Array<{ group_id: string }>, unknown];
  if (groups.length) {
    await store.sequelize.query(
      'UPDATE groups SET version = version + 1, updated_at = clock_timestamp() WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
      {
        bind: [tenantId, groups.map((g) => g.group_id)],
        transaction: t,
      },
    );
  }
  const revoked = await revokePersonGrants(store, t, ctx, tenantId, current.id);
  await recordAudit(store, t, ctx, {
    tenantId,
    action: 'person.deprovision',
    targetType: 'person',
    targetId: current.id,
    before: personAuditView(current),
    after: {
      ...personAuditView(current),
      status: 'deprovisioned',
      active: false,
      groupsLeft: groups.map((g) => g.group_id),
      grantsRevoked: revoked,
    },
  });
}
