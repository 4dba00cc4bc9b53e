import { Op } from 'sequelize';
import { select } from '../db/sql.js';
import { type ActorContext, inTransaction, type Store } from '../db/store.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { UUID } from '../ids.js';
import { recordAudit } from './audit.js';
import { ident, tenantTables } from './tenant-tables.js';
import { type TenantView, tenantView } from './tenants.js';

/**
 * What an operator does to a whole tenant after its soft delete: restore it, or wipe it out. An
 * operator names a tenant by id, or by slug; a slug names the live tenant that holds it, else the
 * most recently deleted one that had it.
 */
export async function findTenantForOperator(
  store: Store,
  ref: string,
): Promise<TenantView & { deletedAt: string | null }> {
  const { Tenant } = store.models;
  const row = UUID.test(ref)
    ? await Tenant.findByPk(ref)
    : await Tenant.findOne({
        where: { slug: ref },
        // live first, then the latest deleted
        order: [
          [store.sequelize.literal('deleted_at IS NULL'), 'DESC'],
          ['deletedAt', 'DESC'],
        ],
      });
  if (!row) throw new NotFoundError(`No tenant ${UUID.test(ref) ? 'with id' : 'with slug'} "${ref}"`);
  return { ...tenantView(row.get({ plain: true })), deletedAt: row.deletedAt?.toISOString() ?? null };
}

/**
 * Undoes a soft delete: the tenant's tokens work again and SCIM and LTI reach it. If its slug was
 * taken meanwhile it comes back as "<slug>-restored" (or "-restored-2", …), said in the result.
 */
export async function restoreTenant(store: Store, ctx: ActorContext, ref: string): Promise<TenantView> {
  const found = await findTenantForOperator(store, ref);
  if (!found.deletedAt) throw new BadRequestError(`Tenant ${found.slug} is not deleted`);
  return inTransaction(store, async (t) => {
    const { Tenant } = store.models;
    const row = await Tenant.findByPk(found.id, { transaction: t, lock: t.LOCK.UPDATE });
    if (!row?.deletedAt) throw new BadRequestError(`Tenant ${found.slug} is not deleted`);
    const before = tenantView(row.get({ plain: true }));
    // The restored tenant's slug must not collide with a live one; the unique index is on live slugs.
    const taken = new Set(
      (
        await Tenant.findAll({
          attributes: ['slug'],
          where: { deletedAt: null, slug: { [Op.startsWith]: row.slug } },
          transaction: t,
          raw: true,
        })
      ).map((r) => r.slug),
    );
    let slug = row.slug;
    for (let n = 1; taken.has(slug); n++) slug = `${row.slug}-restored${n === 1 ? '' : `-${n}`}`;
    const now = new Date();
    await row.update({ slug, deletedAt: null, updatedAt: now }, { transaction: t });
    const after = tenantView(row.get({ plain: true }));
    await recordAudit(store, t, ctx, {
      tenantId: row.id,
      action: 'tenant.restore',
      targetType: 'tenant',
      targetId: row.id,
      before: { ...before, deletedAt: found.deletedAt },
      after,
    });
    return after;
  });
}

export interface WipeResult {
  tenant: { id: string; slug: string };
  rows: Record<string, number>;
}

/**
 * Erases every row of a tenant, the tenant row last, in one transaction: another reader sees the
 * whole tenant or none of it. `confirm` must repeat the tenant's slug. What was erased (rows per
 * table, who) stays in operator_audit_events, which outlives the tenant.
 */
export async function wipeTenant(store: Store, ctx: ActorContext, ref: string, confirm: string): Promise<WipeResult> {
  const found = await findTenantForOperator(store, ref);
  if (confirm !== found.slug) {
    throw new BadRequestError(`To wipe tenant ${found.slug} out, confirm with its slug "${found.slug}"`);
  }
  return inTransaction(store, async (t) => {
    const { Tenant, OperatorAuditEvent } = store.models;
    const row = await Tenant.findByPk(found.id, { transaction: t, lock: t.LOCK.UPDATE });
    if (!row) throw new NotFoundError(`No tenant with id "${found.id}"`);
    const rows: Record<string, number> = {};
    // Referencing tables first (the reverse of the foreign-key order).
    for (const table of (await tenantTables(store, t)).reverse()) {
      const [{ n }] = await select<{ n: number }>(
        store,
        `WITH gone AS (DELETE FROM ${ident(table.name)} WHERE tenant_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM gone`,
        [row.id],
        t,
      );
      rows[table.name] = n;
    }
    await row.destroy({ transaction: t });
    rows.tenants = 1;
    await OperatorAuditEvent.create(
      { actor: ctx.actor, action: 'tenant.wipe', targetTenantId: row.id, targetTenantSlug: row.slug, detail: { rows } },
      { transaction: t },
    );
    return { tenant: { id: row.id, slug: row.slug }, rows };
  });
}
