import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { NotFoundError, NotImplementedError } from '../src/errors.js';
import { bodyLimit } from '../src/http/middleware.js';
import { handleBulk } from './bulk.js';
import { listResponse, project, readJsonObject, readListParams, scimJson, type Json, type ScimDeps } from './common.js';
import { discoveryRoutes } from './discovery.js';
import { InvalidQueryError } from '../src/errors.js';
import { unknownAttribute } from './filter.js';
import { renderScimError, ScimError } from './errors.js';
import { limitsMiddleware } from './limits.js';
import { createRateLimiter } from './rate-limit.js';
import { groupsRoutes, listGroups, renderGroup } from './resources/groups.js';
import { listUsers, renderUser, usersRoutes } from './resources/users.js';

export { renderScimError } from './errors.js';

export interface ScimAppDeps extends ScimDeps {
  /** Resolves the bearer token to c.var.auth (kind scim); the host app decides how. */
  authenticate: MiddlewareHandler;
}

/**
 * The SCIM 2.0 service provider (RFC 7644), mounted by the host app at /scim/v2. Finish it before
 * mounting: Hono copies a sub-app's routes at app.route() time.
 */
export function scimApp(deps: ScimAppDeps) {
  const app = new Hono();
  app.use('*', deps.authenticate);
  const limiter = createRateLimiter(deps.store, deps.config.scim.rateLimitPerMinute, deps.config.scim.rateLimitStore);
  app.use('*', limiter.middleware);
  app.use('*', limitsMiddleware(deps.config.scim.limits));
  app.route('/', discoveryRoutes(deps));
  // Endpoint names as clients write them: Microsoft's reference client asks for /users and
  // /Users/?filter=…; both mean the resource type endpoint.
  for (const [name, routes] of [
    ['Users', usersRoutes(deps)],
    ['Groups', groupsRoutes(deps)],
  ] as const) {
    for (const n of [name, name.toLowerCase()]) {
      app.route(`/${n}`, routes);
      app.route(`/${n}/`, routes);
    }
  }
  app.post('/.search', (c) => rootSearch(deps, c));
  // The host app's general body limit skips this path; Bulk's own maxPayloadSize applies instead.
  app.post('/Bulk', bodyLimit(deps.config.scim.bulkMaxPayloadBytes), async (c) =>
    scimJson(await handleBulk(deps, c, (units) => limiter.charge(c.get('auth').tokenId, units))),
  );
  app.all('/Me', () => {
    throw new NotImplementedError('/Me is not supported: SCIM tokens here belong to a tenant, not a user');
  });
  // Answered (not thrown) so the host's method-not-allowed check can still turn it into a 405.
  app.all('*', (c) => renderScimError(c, new NotFoundError(`No SCIM endpoint ${c.req.method} ${c.req.path}`)));
  return app;
}

/** POST /.search at the root: Users then Groups, as one list (RFC 7644 §3.4.3). */
async function rootSearch(deps: ScimDeps, c: Context): Promise<Response> {
  const params = readListParams(await readJsonObject(c));
  if (params.cursor !== undefined)
    throw new ScimError(400, 'invalidValue', 'Cursor paging is not supported on the root /.search');
  const tenantId = c.get('auth').tenant.id;
  // A filter naming an attribute only one resource type has matches nothing of the other type.
  const tolerant = async <T>(fn: () => Promise<T>, empty: T) => {
    try {
      return await fn();
    } catch (err) {
      if ((err instanceof ScimError || err instanceof InvalidQueryError) && err.reason === 'unknown_attribute')
        return empty;
      throw err;
    }
  };
  const render = (r: Json) => project(r, params.attributes, params.excludedAttributes);
  const users = await tolerant(() => listUsers(deps, tenantId, params), null);
  const usersTotal = users?.total ?? 0;
  const resources: Json[] = users ? users.rows.map((r) => render(renderUser(deps, r))) : [];
  const remaining = params.count - resources.length;
  const groupStart = Math.max(1, params.startIndex - usersTotal);
  const groups = await tolerant(
    () => listGroups(deps, tenantId, { ...params, startIndex: groupStart, count: remaining }),
    null,
  );
  if (groups) resources.push(...groups.rows.map((r) => render(renderGroup(deps, r))));
  const groupsTotal = groups ? groups.total : 0;
  if (!users && !groups) throw unknownAttribute(`Unknown or unfilterable attribute in filter "${params.filter}"`);
  return scimJson(listResponse(resources, usersTotal + groupsTotal, params.startIndex));
}
