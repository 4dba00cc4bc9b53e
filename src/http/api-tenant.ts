import type { Store } from '../db/store.js';
import { getTenantById } from '../domain/tenants.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/tenant.js';

/** `GET /api/v1/tenant`: the tenant an admin token belongs to. */
export function tenantRoutes(store: Store) {
  const app = contractRouter();
  app.openapi(contract.getTenant, async (c) => {
    const tenant = await getTenantById(store, c.get('auth').tenant.id);
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
  return app;
}
