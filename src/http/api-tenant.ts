import type { Context } from 'hono';
import type { Store } from '../db/store.js';
import {
  addTenantAdmin,
  listTenantAdmins,
  removeTenantAdmin,
  transferTenantOwnership,
} from '../domain/tenant-admins.js';
import { getTenantById } from '../domain/tenants.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/tenant.js';
import { actorOf, requireAdmin } from './api-auth.js';

/** `/api/v1/tenant`: the tenant an admin token belongs to, and who owns and administers it. */
export function tenantRoutes(store: Store) {
  const app = contractRouter();
  const tenantOf = (c: Context) => c.get('auth').tenant.id;
  app.openapi(contract.getTenant, async (c) => {
    const tenant = await getTenantById(store, tenantOf(c));
    return c.json(
      {
        id: tenant.id,
        slug: tenant.slug,
        name: tenant.name,
        status: tenant.status,
        seatLimit: tenant.seatLimit,
      },
      200,
    );
  });
  app.openapi({ ...contract.listTenantAdmins, middleware: [requireAdmin] }, async (c) =>
    c.json({ items: await listTenantAdmins(store, tenantOf(c)) }, 200),
  );
  app.openapi({ ...contract.addTenantAdmin, middleware: [requireAdmin] }, async (c) => {
    const body = c.req.valid('json');
    return c.json(await addTenantAdmin(store, actorOf(c), tenantOf(c), body.admin, body.role), 201);
  });
  app.openapi({ ...contract.removeTenantAdmin, middleware: [requireAdmin] }, async (c) =>
    c.json(await removeTenantAdmin(store, actorOf(c), tenantOf(c), c.req.valid('param').ref), 200),
  );
  app.openapi({ ...contract.transferOwnership, middleware: [requireAdmin] }, async (c) =>
    c.json(await transferTenantOwnership(store, actorOf(c), tenantOf(c), c.req.valid('json').to), 200),
  );
  return app;
}
