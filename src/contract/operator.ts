import { createRoute, z } from '@hono/zod-openapi';
import { json, jsonBody, problem } from './common.js';
import { Tenant, TenantAdmin, Transfer, TransferBody } from './tenant.js';

/**
 * The operator API (/operator/v1): the hosting team's operations across tenants, authorised by the
 * operator token whose SHA-256 is OPERATOR_TOKEN_SHA256. Tenant tokens are refused here.
 */
const TenantParams = z.object({
  tenant: z.string().min(1).max(200).openapi({ description: 'the slug it has (or had), or its id' }),
});
const OperatorTenant = Tenant.extend({ deletedAt: z.string().nullable() }).openapi('OperatorTenant');
const auth = {
  401: problem('No operator token, or not the operator token (or none is configured)'),
  403: problem('A tenant token: tenant tokens never act across tenants'),
};
const notFound = { 404: problem('No such tenant') };

export const listTenants = createRoute({
  method: 'get',
  path: '/tenants',
  summary: 'Every live tenant',
  responses: { 200: json(z.object({ items: z.array(Tenant) }), 'Tenants'), ...auth },
});

export const getTenant = createRoute({
  method: 'get',
  path: '/tenants/{tenant}',
  summary: 'One tenant, live or soft-deleted',
  request: { params: TenantParams },
  responses: { 200: json(OperatorTenant, 'The tenant'), ...auth, ...notFound },
});

export const exportTenant = createRoute({
  method: 'get',
  path: '/tenants/{tenant}/export',
  summary: 'Every row the tenant owns as one JSON document (streamed; no token hashes or keys)',
  request: { params: TenantParams },
  responses: {
    200: { description: 'The export document (same format as `rosterbridge tenant export`)' },
    ...auth,
    ...notFound,
  },
});

export const restoreTenant = createRoute({
  method: 'post',
  path: '/tenants/{tenant}/restore',
  summary: 'Undo a soft delete (a slug taken meanwhile becomes <slug>-restored)',
  request: { params: TenantParams },
  responses: { 200: json(Tenant, 'Restored'), ...auth, ...notFound, 409: problem('Not deleted') },
});

export const wipeTenant = createRoute({
  method: 'post',
  path: '/tenants/{tenant}/wipe',
  summary: 'Erase every row of the tenant in one transaction (cannot be undone)',
  request: { params: TenantParams, body: jsonBody(z.object({ confirm: z.string() }).strict(), 'confirm: the slug') },
  responses: {
    200: json(
      z.object({ tenant: z.object({ id: z.string(), slug: z.string() }), rows: z.record(z.string(), z.number()) }),
      'Rows erased per table',
    ),
    400: problem('confirm is not the slug'),
    ...auth,
    ...notFound,
  },
});

export const listAdmins = createRoute({
  method: 'get',
  path: '/tenants/{tenant}/admins',
  summary: "A tenant's owner and admins",
  request: { params: TenantParams },
  responses: { 200: json(z.object({ items: z.array(TenantAdmin) }), 'Owner first'), ...auth, ...notFound },
});

export const transferOwnership = createRoute({
  method: 'post',
  path: '/tenants/{tenant}/owner',
  summary: "Hand a tenant's ownership over (or name its first owner)",
  request: { params: TenantParams, body: jsonBody(TransferBody) },
  responses: { 200: json(Transfer, 'Transferred'), ...auth, ...notFound, 409: problem('Already the owner') },
});
