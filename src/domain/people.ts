import { Op, type Transaction, type WhereOptions } from 'sequelize';
import type { PersonAttrs, PersonSource, PersonStatus } from '../db/models.js';
import type { ActorContext, Store } from '../db/store.js';
import { SeatLimitError } from '../errors.js';
import { recordAudit } from './audit.js';

/**
 * The people table is shared by the three doors (SCIM, admin "can't find", LTI launch). Every door
 * creates people through insertPerson so seat limits and the audit trail hold whichever door it was.
 */

/**
 * Statuses that occupy one of the tenant's seats: every live person, placeholders included (a
 * course admin can grant to them, so the school pays for them). Leavers — deprovisioned, merged
 * away, deleted — free their seat. Adopting a placeholder or a first launch takes no new seat.
 */
export const SEAT_STATUSES: readonly PersonStatus[] = ['invited', 'provisioned', 'active', 'suspended'];

/**
 * The tenant's seat limit and the seats still free, with the tenant row locked so concurrent
 * creates serialise on it; null for a tenant without a limit (nothing is locked then).
 */
export async function seatsLeft(
  store: Store,
  t: Transaction,
  tenantId: string,
): Promise<{ limit: number; left: number } | null> {
  const { Tenant, Person } = store.models;
  const tenant = await Tenant.findOne({
    attributes: ['seatLimit'],
    where: { id: tenantId },
    transaction: t,
    raw: true,
  });
  if (!tenant || tenant.seatLimit === null) return null;
  await Tenant.findOne({ attributes: ['id'], where: { id: tenantId }, lock: t.LOCK.UPDATE, transaction: t, raw: true });
  const n = await Person.count({
    where: { tenantId, deletedAt: null, status: [...SEAT_STATUSES] },
    transaction: t,
  });
  return { limit: tenant.seatLimit, left: Math.max(0, tenant.seatLimit - n) };
}

/** Throws SeatLimitError when one more person would exceed the tenant's limit. */
export async function assertSeatAvailable(store: Store, t: Transaction, tenantId: string): Promise<void> {
  const seats = await seatsLeft(store, t, tenantId);
  if (seats && seats.left < 1) throw new SeatLimitError(seats.limit);
}

export interface NewPerson {
  tenantId: string;
  status: PersonStatus;
  source: PersonSource;
  userName?: string | null;
  externalId?: string | null;
  primaryEmail?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  displayName?: string | null;
  active?: boolean;
  scim?: Record<string, unknown>;
}

/** Live (not merged) people of the tenant whose userName is this one, compared as the unique index
 * on lower(user_name) is built, so the index serves it. */
export function liveWithUserName(store: Store, tenantId: string, userName: string): WhereOptions {
  const { where, fn, col } = store.sequelize;
  return {
    tenantId,
    deletedAt: null,
    status: { [Op.ne]: 'merged' },
    [Op.and]: [where(fn('lower', col('user_name')), userName.toLowerCase())],
  } as WhereOptions;
}

/** Audit view of a person: identity fields only, never the whole SCIM document. */
export function personAuditView(p: PersonAttrs) {
  return {
    id: p.id,
    status: p.status,
    userName: p.userName,
    externalId: p.externalId,
    primaryEmail: p.primaryEmail,
    displayName: p.displayName,
    active: p.active,
    source: p.source,
  };
}

export async function insertPerson(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: NewPerson,
): Promise<PersonAttrs> {
  if (SEAT_STATUSES.includes(input.status)) await assertSeatAvailable(store, t, input.tenantId);
  const row = await store.models.Person.create(
    {
      tenantId: input.tenantId,
      status: input.status,
      source: input.source,
      userName: input.userName ?? null,
      externalId: input.externalId ?? null,
      primaryEmail: input.primaryEmail ? input.primaryEmail.toLowerCase() : null,
      givenName: input.givenName ?? null,
      familyName: input.familyName ?? null,
      displayName: input.displayName ?? null,
      active: input.active ?? true,
      scim: input.scim ?? {},
    },
    { transaction: t },
  );
  const person = row.get({ plain: true });
  await recordAudit(store, t, ctx, {
    tenantId: input.tenantId,
    action: 'person.create',
    targetType: 'person',
    targetId: person.id,
    after: personAuditView(person),
  });
  return person;
}
