import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import * as contract from '../contract/admin.js';
import { contractRouter } from '../contract/common.js';
import { listLaunchLog } from '../domain/launch-log.js';
import { SEAT_STATUSES } from '../domain/people.js';
import { lastScimSuccess, listProvisioningLog, peopleByStatus } from '../domain/provisioning-log.js';
import { getTenantById } from '../domain/tenants.js';
import { createToken, listTokens, parseDuration, revokeToken, type TokenView } from '../domain/tokens.js';
import { NotFoundError } from '../errors.js';
import { actorOf, requireAdmin } from './api-auth.js';

/** `/api/v1/tenant/{overview,provisioning-log,launch-log,scim-tokens}`: the school admin page's data, for a tenant admin token. */
export function adminRoutes(store: Store, config: Config) {
  const app = contractRouter();
  const tenantOf = (c: { get(k: 'auth'): { tenant: { id: string } } }) => c.get('auth').tenant.id;
  const limit = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  const scimToken = (t: TokenView) => ({
    id: t.id,
    name: t.name,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
  });

  app.openapi({ ...contract.getProvisioningLog, middleware: [requireAdmin] }, async (c) => {
    const q = c.req.valid('query');
    const page = await listProvisioningLog(store, tenantOf(c), {
      limit: limit(q.limit),
      before: q.before ? Number(q.before) : undefined,
      failedOnly: q.failed === 'true',
    });
    return c.json(page, 200);
  });
  app.openapi({ ...contract.getLaunchLog, middleware: [requireAdmin] }, async (c) => {
    const q = c.req.valid('query');
    const page = await listLaunchLog(store, tenantOf(c), {
      limit: limit(q.limit),
      before: q.before ? Number(q.before) : undefined,
      failedOnly: q.failed === 'true',
    });
    return c.json(page, 200);
  });
  app.openapi({ ...contract.getOverview, middleware: [requireAdmin] }, async (c) => {
    const tenantId = tenantOf(c);
    const [tenant, people, last] = await Promise.all([
      getTenantById(store, tenantId),
      peopleByStatus(store, tenantId),
      lastScimSuccess(store, tenantId),
    ]);
    const base = config.publicUrl;
    return c.json(
      {
        name: tenant.name,
        seatLimit: tenant.seatLimit,
        seatsUsed: SEAT_STATUSES.reduce((n, s) => n + (people[s] ?? 0), 0),
        peopleByStatus: people,
        lastScimSuccessAt: last,
        scimBaseUrl: `${base}/scim/v2`,
        toolUrls: {
          login: `${base}/lti/login`,
          launch: `${base}/lti/launch`,
          jwks: `${base}/lti/jwks`,
          deepLinking: `${base}/lti/launch`,
          adminPage: `${base}/app/admin`,
        },
      },
      200,
    );
  });
  app.openapi({ ...contract.listScimTokens, middleware: [requireAdmin] }, async (c) =>
    c.json({ items: (await listTokens(store, tenantOf(c))).filter((t) => t.kind === 'scim').map(scimToken) }, 200),
  );
  app.openapi({ ...contract.createScimToken, middleware: [requireAdmin] }, async (c) => {
    const body = c.req.valid('json');
    const made = await createToken(store, actorOf(c), {
      tenantId: tenantOf(c),
      kind: 'scim',
      name: body.name,
      expiresAt: body.expiresIn ? new Date(Date.now() + parseDuration(body.expiresIn)) : null,
    });
    return c.json({ ...scimToken(made.view), token: made.token }, 201);
  });
  app.openapi({ ...contract.revokeScimToken, middleware: [requireAdmin] }, async (c) => {
    const tenantId = tenantOf(c);
    const { id } = c.req.valid('param');
    const known = (await listTokens(store, tenantId)).some((t) => t.id === id && t.kind === 'scim');
    if (!known) throw new NotFoundError('No such SCIM token in this tenant');
    return c.json(scimToken(await revokeToken(store, actorOf(c), tenantId, id)), 200);
  });
  return app;
}
