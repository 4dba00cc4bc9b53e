import { createRegistrationLink } from '../../lti/registration.js';
import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import { addDeployment, addPlatform, forgetFrameOrigin, getPlatform, listPlatforms } from '../domain/platforms.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/platforms.js';
import { actorOf, requireAdmin } from './api-auth.js';

/**
 * LTI platform registry on the admin API (`/api/v1/lti/…`, tenant admin token): the same
 * operations as `rosterbridge platform add | deployment add | list | register-link`.
 */
export function platformRoutes(store: Store, config: Config) {
  const app = contractRouter();
  app.use('/lti/*', requireAdmin);
  app.openapi(contract.listPlatforms, async (c) =>
    c.json({ platforms: await listPlatforms(store, c.get('auth').tenant.id) }, 200),
  );
  app.openapi(contract.addPlatform, async (c) =>
    c.json(await addPlatform(store, actorOf(c), c.get('auth').tenant.id, c.req.valid('json')), 201),
  );
  app.openapi(contract.getPlatform, async (c) =>
    c.json(await getPlatform(store, c.get('auth').tenant.id, c.req.valid('param').id), 200),
  );
  app.openapi(contract.addDeployment, async (c) => {
    const tenantId = c.get('auth').tenant.id;
    const p = await getPlatform(store, tenantId, c.req.valid('param').id);
    const { deploymentId } = c.req.valid('json');
    return c.json(
      await addDeployment(store, actorOf(c), tenantId, { issuer: p.issuer, clientId: p.clientId, deploymentId }),
      201,
    );
  });
  app.openapi(contract.forgetFrameOrigin, async (c) =>
    c.json(
      await forgetFrameOrigin(
        store,
        actorOf(c),
        c.get('auth').tenant.id,
        c.req.valid('param').id,
        c.req.valid('query').origin,
      ),
      200,
    ),
  );
  app.openapi(contract.createRegistrationLink, async (c) => {
    const link = await createRegistrationLink(store, c.get('auth').tenant.id, config.publicUrl);
    return c.json({ url: link.url, expiresAt: link.expiresAt.toISOString() }, 201);
  });
  return app;
}
