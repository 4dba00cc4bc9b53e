import { createRoute, z } from '@hono/zod-openapi';
import { json, jsonBody, problem } from './common.js';

export const Tenant = z
  .object({
    id: z.string().uuid(),
    slug: z.string(),
    name: z.string(),
    status: z.enum(['active', 'suspended']),
    seatLimit: z.number().int().nullable(),
  })
  .openapi('Tenant');

export const getTenant = createRoute({
  method: 'get',
  path: '/tenant',
  summary: 'The tenant this admin token belongs to',
  responses: {
    200: json(Tenant, 'The tenant'),
    401: problem('Missing, malformed, unknown, revoked or expired token'),
    403: problem('A token of another kind (scim)'),
  },
});

/* --- owner and admins --- */

const adminRef = z.string().min(1).max(300).openapi({
  description:
    'person id, email:<address>, key:<school id> (unknown people become waiting placeholders) or operator:<name>',
});

export const TenantAdmin = z
  .object({
    id: z.string().uuid(),
    role: z.enum(['owner', 'admin']),
    kind: z.enum(['person', 'operator']),
    name: z.string().openapi({ description: "a person's name or email, or the operator's name" }),
    personId: z.string().uuid().nullable(),
    operator: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('TenantAdmin');

const AdminList = z.object({ items: z.array(TenantAdmin) });
export const AddAdminBody = z
  .object({
    admin: adminRef,
    role: z
      .enum(['owner', 'admin'])
      .default('admin')
      .openapi({ description: "'owner' only while the tenant has none" }),
  })
  .strict();
export const TransferBody = z.object({ to: adminRef }).strict();
export const Transfer = z.object({ owner: TenantAdmin, previous: TenantAdmin.nullable() }).openapi('OwnershipTransfer');
export const AdminParams = z.object({ ref: adminRef });

const adminAuth = {
  401: problem('Missing, malformed, unknown, revoked or expired token'),
  403: problem('Not a tenant admin token'),
};
const adminConflict = problem(
  'The owner cannot be removed or demoted (transfer first), the last admin cannot be removed, or already an admin',
);

export const listTenantAdmins = createRoute({
  method: 'get',
  path: '/tenant/admins',
  summary: "The tenant's owner and admins",
  responses: { 200: json(AdminList, 'Owner first'), ...adminAuth },
});

export const addTenantAdmin = createRoute({
  method: 'post',
  path: '/tenant/admins',
  summary: 'Add an admin (or name the first owner)',
  request: { body: jsonBody(AddAdminBody) },
  responses: { 201: json(TenantAdmin, 'Added'), 400: problem('Malformed reference'), ...adminAuth, 409: adminConflict },
});

export const removeTenantAdmin = createRoute({
  method: 'delete',
  path: '/tenant/admins/{ref}',
  summary: 'Remove an admin (by admin id or the same reference used to add them)',
  request: { params: AdminParams },
  responses: { 200: json(TenantAdmin, 'Removed'), 404: problem('Not an admin'), ...adminAuth, 409: adminConflict },
});

export const transferOwnership = createRoute({
  method: 'post',
  path: '/tenant/owner',
  summary: 'Hand ownership over; the previous owner stays an admin',
  request: { body: jsonBody(TransferBody) },
  responses: {
    200: json(Transfer, 'Transferred'),
    400: problem('Malformed reference'),
    ...adminAuth,
    409: adminConflict,
  },
});
