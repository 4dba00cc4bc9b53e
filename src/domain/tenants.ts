import { z } from 'zod';
import type { TenantAttrs } from '../db/models.js';
import { inTransaction, isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { recordAudit } from './audit.js';
import { parseInput } from './validate.js';

export const tenantInput = z.object({
  slug: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, '2-63 characters of a-z, 0-9 and "-", starting with a letter or digit'),
  name: z.string().trim().min(1, 'must not be empty').max(200),
  seatLimit: z.number().int().min(0).nullable().optional(),
});
export type TenantInput = z.infer<typeof tenantInput>;

export interface TenantView {
  id: string;
  slug: string;
  name: string;
  status: TenantAttrs['status'];
  seatLimit: number | null;
  createdAt: string;
}

export function tenantView(t: TenantAttrs): TenantView {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    status: t.status,
    seatLimit: t.seatLimit,
    createdAt: new Date(t.createdAt).toISOString(),
  };
}

export async function createTenant(store: Store, ctx: ActorContext, input: TenantInput): Promise<TenantView> {
  const data = parseInput(tenantInput, input);
  try {
    return await inTransaction(store, async (t) => {
      const row = await store.models.Tenant.create(
        { slug: data.slug, name: data.name, seatLimit: data.seatLimit ?? null },
        { transaction: t },
      );
      const view = tenantView(row.get({ plain: true }));
      await recordAudit(store, t, ctx, {
        tenantId: view.id,
        action: 'tenant.create',
        targetType: 'tenant',
        targetId: view.id,
        after: view,
      });
      return view;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`A tenant with slug "${data.slug}" already exists`);
    throw err;
  }
}

export async function listTenants(store: Store): Promise<TenantView[]> {
  const rows = await store.models.Tenant.findAll({
    where: { deletedAt: null },
    order: [
      ['createdAt', 'ASC'],
      ['slug', 'ASC'],
    ],
  });
  return rows.map((r) => tenantView(r.get({ plain: true })));
}

export async function getTenantBySlug(store: Store, slug: string): Promise<TenantView> {
  const row = await store.models.Tenant.findOne({ where: { slug, deletedAt: null } });
  if (!row) throw new NotFoundError(`No tenant with slug "${slug}"`);
  return tenantView(row.get({ plain: true }));
}

export async function getTenantById(store: Store, id: string): Promise<TenantView> {
  const row = await store.models.Tenant.findOne({ where: { id, deletedAt: null } });
  if (!row) throw new NotFoundError(`No tenant with id "${id}"`);
  return tenantView(row.get({ plain: true }));
}

export const tenantChanges = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200).optional(),
  seatLimit: z.number().int().min(0).nullable().optional(),
  status: z.enum(['active', 'suspended']).optional(),
});
export type TenantChanges = z.infer<typeof tenantChanges>;

/** Renames, suspends/reactivates or changes the seat limit of a live tenant. */
export async function updateTenant(
  store: Store,
  ctx: ActorContext,
  slug: string,
  changes: TenantChanges,
): Promise<TenantView> {
  const data = parseInput(tenantChanges, changes);
  return inTransaction(store, async (t) => {
    const row = await store.models.Tenant.findOne({
      where: { slug, deletedAt: null },
      transaction: t,
      lock: t.LOCK.UPDATE,
    });
    if (!row) throw new NotFoundError(`No tenant with slug "${slug}"`);
    const before = tenantView(row.get({ plain: true }));
    await row.update({ ...data, updatedAt: new Date() }, { transaction: t });
    const after = tenantView(row.get({ plain: true }));
    await recordAudit(store, t, ctx, {
      tenantId: after.id,
      action: 'tenant.update',
      targetType: 'tenant',
      targetId: after.id,
      before,
      after,
    });
    return after;
  });
}

/**
 * Soft-deletes a tenant: its data stays (for audit and recovery), its tokens stop working at once
 * and its slug is free for a new tenant.
 */
export async function deleteTenant(store: Store, ctx: ActorContext, slug: string): Promise<TenantView> {
  return inTransaction(store, async (t) => {
    const row = await store.models.Tenant.findOne({
      where: { slug, deletedAt: null },
      transaction: t,
      lock: t.LOCK.UPDATE,
    });
    if (!row) throw new NotFoundError(`No tenant with slug "${slug}"`);
    const before = tenantView(row.get({ plain: true }));
    const deletedAt = new Date();
    await row.update({ deletedAt, updatedAt: deletedAt }, { transaction: t });
    await recordAudit(store, t, ctx, {
      tenantId: before.id,
      action: 'tenant.delete',
      targetType: 'tenant',
      targetId: before.id,
      before,
      after: { ...before, deletedAt: deletedAt.toISOString() },
    });
    return before;
  });
}
