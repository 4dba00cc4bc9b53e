import { Hono } from 'hono';
import { getTenantById } from '../domain/tenants.js';
import type { Store } from '../db/store.js';
import { problemResponse, type PathItems } from './openapi.js';

/** `GET /api/v1/tenant`: the tenant an admin token belongs to. */
export function tenantRoutes(store: Store) {
  const app = new Hono();
  app.get('/tenant', async (c) => {
    const tenant = await getTenantById(store, c.get('auth').tenant.id);
    return c.json({
      id: tenant.id,
      slug: tenant.slug,
      name: tenant.name,
      status: tenant.status,
      seatLimit: tenant.seatLimit,
    });
  });
  return app;
}

export const tenantOpenApi: PathItems = {
  '/api/v1/tenant': {
    get: {
      summary: 'The tenant this admin token belongs to',
      responses: {
        200: {
          description: 'The tenant',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  id: { type: 'string', format: 'uuid' },
                  slug: { type: 'string' },
                  name: { type: 'string' },
                  status: { type: 'string' },
                  seatLimit: { type: ['integer', 'null'] },
                },
              },
            },
          },
        },
        401: problemResponse('Missing, malformed, unknown, revoked or expired token'),
        403: problemResponse('A token of another kind (scim)'),
      },
    },
  },
};
