import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import { transferTenantOwnership, listTenantAdmins } from '../domain/tenant-admins.js';
import { exportTenant } from '../domain/tenant-export.js';
import { findTenantForOperator, restoreTenant, wipeTenant } from '../domain/tenant-lifecycle.js';
import { listTenants } from '../domain/tenants.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/operator.js';

/**
 * /operator/v1: what the hosting team does across tenants. Only the operator token passes — the
 * server keeps its SHA-256 (OPERATOR_TOKEN_SHA256), never the secret — and a tenant token is a
 * 403 here whatever its kind, so no school's credentials ever reach another school.
 */
function requireOperator(expectedSha256: string | undefined): MiddlewareHandler {
  const expected = expectedSha256 ? Buffer.from(expectedSha256, 'hex') : null;
  return async function requireOperator(c, next) {
    const header = c.req.header('authorization');
    const bearer = header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    if (!bearer) throw new UnauthorizedError('The operator API needs the operator token (Authorization: Bearer …)');
    if (/^rb_(admin|scim)_/.test(bearer)) throw new ForbiddenError('Tenant tokens never act across tenants');
    if (!expected) throw new UnauthorizedError('This server has no operator token (OPERATOR_TOKEN_SHA256 is not set)');
    const given = createHash('sha256').update(bearer).digest();
    if (!timingSafeEqual(given, expected)) throw new UnauthorizedError('Not the operator token');
    await next();
  };
}

/** Streams an async generator as a response body; a client that goes away ends the generator (and its transaction). */
function streamOf(chunks: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await chunks.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}

export function operatorRoutes(store: Store, config: Config) {
  const app = contractRouter();
  app.use('*', requireOperator(config.operatorTokenSha256));
  const actor = (c: { get(k: 'requestId'): string | undefined }) => ({
    actor: 'operator',
    requestId: c.get('requestId'),
  });

  app.openapi(contract.listTenants, async (c) => c.json({ items: await listTenants(store) }, 200));
  app.openapi(contract.getTenant, async (c) =>
    c.json(await findTenantForOperator(store, c.req.valid('param').tenant), 200),
  );
  app.openapi(contract.exportTenant, async (c) => {
    const ref = c.req.valid('param').tenant;
    const tenant = await findTenantForOperator(store, ref); // 404 before the first byte
    return c.body(streamOf(exportTenant(store, tenant.id)), 200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Disposition': `attachment; filename="${tenant.slug}.json"`,
      'Cache-Control': 'no-store',
    });
  });
  app.openapi(contract.restoreTenant, async (c) =>
    c.json(await restoreTenant(store, actor(c), c.req.valid('param').tenant), 200),
  );
  app.openapi(contract.wipeTenant, async (c) =>
    c.json(await wipeTenant(store, actor(c), c.req.valid('param').tenant, c.req.valid('json').confirm), 200),
  );
  app.openapi(contract.listAdmins, async (c) => {
    const tenant = await findTenantForOperator(store, c.req.valid('param').tenant);
    return c.json({ items: await listTenantAdmins(store, tenant.id) }, 200);
  });
  app.openapi(contract.transferOwnership, async (c) => {
    const tenant = await findTenantForOperator(store, c.req.valid('param').tenant);
    return c.json(await transferTenantOwnership(store, actor(c), tenant.id, c.req.valid('json').to), 200);
  });
  return app;
}
