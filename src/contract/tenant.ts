import { createRoute, z } from '@hono/zod-openapi';
import { json, problem } from './common.js';

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
