import type { Transaction } from 'sequelize';
import { inTransaction, isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import type { TenantAdmin, TenantAdminRole } from './tenancy-models.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { UUID } from '../ids.js';
import { recordAudit } from './audit.js';
import { resolvePersonRef } from './person-reference.js';

/**
 * Who runs a tenant: one owner (once named) and any number of admins, each a person of the tenant
 * (by id, `email:` or `key:`; an unknown one becomes a waiting placeholder the IdP can adopt later)
 * or a named operator account (`operator:<name>`). The owner changes only by transfer, so a tenant
 * that has an owner always keeps one; the last remaining admin cannot be removed. Every change is
 * audited in the tenant's own log, in the transaction of the change, with the tenant row locked so
 * two concurrent transfers or removals see each other.
 */
export interface TenantAdminView {
  id: string;
  role: TenantAdminRole;
  kind: 'person' | 'operator';
  /** What people read: a person's name or email, or the operator's name. */
  name: string;
  personId: string | null;
  operator: string | null;
  createdAt: string;
}

const OPERATOR_PREFIX = 'operator:';
const OPERATOR_NAME = /^[\w .@-]{1,200}$/;

type AdminRow = TenantAdmin & {
  person?: { displayName: string | null; primaryEmail: string | null; userName: string | null } | null;
};

function view(r: AdminRow): TenantAdminView {
  const p = r.person;
  return {
    id: r.id,
    role: r.role,
    kind: r.personId ? 'person' : 'operator',
    name: r.operator ?? p?.displayName ?? p?.primaryEmail ?? p?.userName ?? 'a person of the school',
    personId: r.personId ?? null,
    operator: r.operator ?? null,
    createdAt: new Date(r.createdAt).toISOString(),
  };
}

const auditView = (v: TenantAdminView) => ({ id: v.id, role: v.role, personId: v.personId, operator: v.operator });

async function rows(store: Store, tenantId: string, t?: Transaction): Promise<TenantAdminView[]> {
  const { TenantAdmin, Person } = store.models;
  const found = await TenantAdmin.findAll({
    where: { tenantId },
    include: [{ model: Person, as: 'person', attributes: ['displayName', 'primaryEmail', 'userName'] }],
    order: [
      [store.sequelize.literal("role = 'owner'"), 'DESC'],
      ['createdAt', 'ASC'],
    ],
    transaction: t,
  });
  return found.map((r) => view(r as AdminRow));
}

export const listTenantAdmins = (store: Store, tenantId: string) => rows(store, tenantId);

async function lockTenant(store: Store, t: Transaction, tenantId: string): Promise<void> {
  const tenant = await store.models.Tenant.findOne({
    where: { id: tenantId, deletedAt: null },
    lock: t.LOCK.UPDATE,
    transaction: t,
  });
  if (!tenant) throw new NotFoundError('No such tenant');
}

/** Finds the admin row a reference names (row id, person ref or operator:<name>), creating nothing. */
async function findByRef(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  ref: string,
): Promise<TenantAdminView | undefined> {
  const all = await rows(store, tenantId, t);
  const byId = all.find((a) => a.id === ref.trim().toLowerCase());
  if (byId) return byId;
  const subject = await subjectOf(store, t, ctx, tenantId, ref, false);
  return all.find((a) =>
    subject.operator ? a.operator?.toLowerCase() === subject.operator.toLowerCase() : a.personId === subject.personId,
  );
}

async function subjectOf(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  ref: string,
  create: boolean,
): Promise<{ personId: string | null; operator: string | null }> {
  const raw = ref.trim();
  if (raw.toLowerCase().startsWith(OPERATOR_PREFIX)) {
    const name = raw.slice(OPERATOR_PREFIX.length).trim();
    if (!OPERATOR_NAME.test(name))
      throw new ValidationError('An operator name is 1-200 letters, digits, spaces, dots, @ or dashes');
    return { personId: null, operator: name };
  }
  if (!UUID.test(raw) && !/^(email|key):/i.test(raw))
    throw new ValidationError(
      `"${ref}" names nobody: use a person id, email:<address>, key:<school id> or operator:<name>`,
    );
  const { person } = await resolvePersonRef(store, t, ctx, tenantId, raw, { create });
  return { personId: person.id, operator: null };
}

async function insert(
  store: Store,
  t: Transaction,
  tenantId: string,
  role: TenantAdminRole,
  subject: { personId: string | null; operator: string | null },
): Promise<TenantAdminView> {
  try {
    // A savepoint: a duplicate must not abort the caller's transaction on PostgreSQL.
    const row = await store.sequelize.transaction({ transaction: t }, (sp) =>
      store.models.TenantAdmin.create({ tenantId, role, ...subject }, { transaction: sp }),
    );
    const [created] = (await rows(store, tenantId, t)).filter((a) => a.id === row.id);
    return created;
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('That person or operator is already an admin of this tenant');
    throw err;
  }
}

/**
 * Adds an admin; `role: 'owner'` only names the first owner (afterwards ownership moves by
 * transfer). Adding someone who already is an admin is a 409 naming their role.
 */
export async function addTenantAdmin(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  ref: string,
  role: TenantAdminRole = 'admin',
): Promise<TenantAdminView> {
  return inTransaction(store, async (t) => {
    await lockTenant(store, t, tenantId);
    const existing = await findByRef(store, t, ctx, tenantId, ref).catch((err) => {
      if (err instanceof NotFoundError) return undefined; // a person not yet known: created below
      throw err;
    });
    if (existing) throw new ConflictError(`${existing.name} is already the tenant's ${existing.role}`);
    if (role === 'owner' && (await rows(store, tenantId, t)).some((a) => a.role === 'owner'))
      throw new ConflictError('This tenant has an owner; ownership moves by transfer');
    const created = await insert(store, t, tenantId, role, await subjectOf(store, t, ctx, tenantId, ref, true));
    await recordAudit(store, t, ctx, {
      tenantId,
      action: role === 'owner' ? 'tenant.owner.set' : 'tenant.admin.add',
      targetType: 'tenant_admin',
      targetId: created.id,
      after: auditView(created),
    });
    return created;
  });
}

/** Removes an admin. The owner cannot be removed (transfer first), nor the last remaining admin. */
export async function removeTenantAdmin(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  ref: string,
): Promise<TenantAdminView> {
  return inTransaction(store, async (t) => {
    await lockTenant(store, t, tenantId);
    const target = await findByRef(store, t, ctx, tenantId, ref);
    if (!target) throw new NotFoundError(`${ref} is not an admin of this tenant`);
    if (target.role === 'owner')
      throw new ConflictError(`${target.name} owns this tenant: transfer ownership before removing them`);
    if ((await rows(store, tenantId, t)).length === 1)
      throw new ConflictError(`${target.name} is the last admin of this tenant and cannot be removed`);
    await store.models.TenantAdmin.destroy({ where: { tenantId, id: target.id }, transaction: t });
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'tenant.admin.remove',
      targetType: 'tenant_admin',
      targetId: target.id,
      before: auditView(target),
    });
    return target;
  });
}

/**
 * Hands ownership to someone (made an admin first if they are not one); the previous owner stays
 * an admin. With no owner yet, names the first one.
 */
export async function transferTenantOwnership(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  toRef: string,
): Promise<{ owner: TenantAdminView; previous: TenantAdminView | null }> {
  return inTransaction(store, async (t) => {
    await lockTenant(store, t, tenantId);
    const all = await rows(store, tenantId, t);
    const previous = all.find((a) => a.role === 'owner') ?? null;
    let target = await findByRef(store, t, ctx, tenantId, toRef).catch((err) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    if (target && target.id === previous?.id) throw new ConflictError(`${target.name} already owns this tenant`);
    const { TenantAdmin } = store.models;
    // Demote first: the unique index allows one owner at a time.
    if (previous)
      await TenantAdmin.update(
        { role: 'admin', updatedAt: new Date() },
        { where: { tenantId, id: previous.id }, transaction: t },
      );
    if (target)
      await TenantAdmin.update(
        { role: 'owner', updatedAt: new Date() },
        { where: { tenantId, id: target.id }, transaction: t },
      );
    else target = await insert(store, t, tenantId, 'owner', await subjectOf(store, t, ctx, tenantId, toRef, true));
    const after = await rows(store, tenantId, t);
    const owner = after.find((a) => a.id === target.id)!;
    const demoted = previous ? after.find((a) => a.id === previous.id)! : null;
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'tenant.owner.transfer',
      targetType: 'tenant_admin',
      targetId: owner.id,
      before: previous ? auditView(previous) : null,
      after: auditView(owner),
    });
    return { owner, previous: demoted };
  });
}
