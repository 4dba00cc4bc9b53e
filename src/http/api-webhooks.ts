import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/webhooks.js';
import {
  createEndpoint,
  deleteEndpoint,
  getDelivery,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  replayDelivery,
  updateEndpoint,
} from '../domain/webhooks.js';
import { actorOf, requireAdmin } from './api-auth.js';

/** Webhook endpoints and deliveries on the admin API (`/api/v1/webhooks/…`, tenant admin token). */
export function webhookRoutes(store: Store, config: Config) {
  const app = contractRouter();
  app.use('/webhooks/*', requireAdmin);
  const tenantOf = (c: { get(k: 'auth'): { tenant: { id: string } } }) => c.get('auth').tenant.id;
  app.openapi(contract.listEndpoints, async (c) => c.json({ endpoints: await listEndpoints(store, tenantOf(c)) }, 200));
  app.openapi(contract.createEndpoint, async (c) =>
    c.json(await createEndpoint(store, actorOf(c), tenantOf(c), c.req.valid('json'), config.webhooks), 201),
  );
  app.openapi(contract.getEndpoint, async (c) =>
    c.json(await getEndpoint(store, tenantOf(c), c.req.valid('param').id), 200),
  );
  app.openapi(contract.updateEndpoint, async (c) =>
    c.json(await updateEndpoint(store, actorOf(c), tenantOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
  );
  app.openapi(contract.deleteEndpoint, async (c) => {
    await deleteEndpoint(store, actorOf(c), tenantOf(c), c.req.valid('param').id);
    return c.body(null, 204);
  });
  app.openapi(contract.listDeliveries, async (c) =>
    c.json({ deliveries: await listDeliveries(store, tenantOf(c), c.req.valid('query')) }, 200),
  );
  app.openapi(contract.getDelivery, async (c) =>
    c.json(await getDelivery(store, tenantOf(c), c.req.valid('param').id), 200),
  );
  app.openapi(contract.replayDelivery, async (c) =>
    c.json(await replayDelivery(store, actorOf(c), tenantOf(c), c.req.valid('param').id), 202),
  );
  return app;
}
