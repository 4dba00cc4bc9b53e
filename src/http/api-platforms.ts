import { Hono } from 'hono';
import { createRegistrationLink } from '../../lti/registration.js';
import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import { addDeployment, addPlatform, getPlatform, listPlatforms } from '../domain/platforms.js';
import { ValidationError } from '../errors.js';
import { actorOf, requireAdmin } from './api-auth.js';
import { problemResponse, type PathItems } from './openapi.js';
import { UUID } from '../ids.js';

/**
 * LTI platform registry on the admin API (`/api/v1/lti/…`, tenant admin token): the same
 * operations as `rosterbridge platform add | deployment add | list | register-link`.
 */
async function body(c: { req: { json(): Promise<unknown> } }): Promise<Record<string, unknown>> {
  const b = await c.req.json();
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new ValidationError('The request body must be a JSON object');
  return b as Record<string, unknown>;
}

export function platformRoutes(store: Store, config: Config) {
  const app = new Hono();
  app.use('/lti/*', requireAdmin);
  app.get('/lti/platforms', async (c) => c.json({ platforms: await listPlatforms(store, c.get('auth').tenant.id) }));
  app.post('/lti/platforms', async (c) => {
    const p = await addPlatform(store, actorOf(c), c.get('auth').tenant.id, (await body(c)) as never);
    return c.json(p, 201);
  });
  app.get('/lti/platforms/:id', async (c) =>
    c.json(await getPlatform(store, c.get('auth').tenant.id, c.req.param('id'))),
  );
  app.post('/lti/platforms/:id/deployments', async (c) => {
    const tenantId = c.get('auth').tenant.id;
    const id = c.req.param('id');
    if (!UUID.test(id)) throw new ValidationError('Platform id must be a UUID');
    const p = await getPlatform(store, tenantId, id);
    const b = await body(c);
    return c.json(
      await addDeployment(store, actorOf(c), tenantId, {
        issuer: p.issuer,
        clientId: p.clientId,
        deploymentId: b.deploymentId as string,
      }),
      201,
    );
  });
  app.post('/lti/registration-links', async (c) => {
    const link = await createRegistrationLink(store, c.get('auth').tenant.id, config.publicUrl);
    return c.json({ url: link.url, expiresAt: link.expiresAt.toISOString() }, 201);
  });
  return app;
}

const platformSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    tenantId: { type: 'string', format: 'uuid' },
    issuer: { type: 'string' },
    clientId: { type: 'string' },
    authLoginUrl: { type: 'string', format: 'uri' },
    authTokenUrl: { type: 'string', format: 'uri' },
    jwksUrl: { type: 'string', format: 'uri' },
    trustEmail: { type: 'boolean' },
    jitCreate: { type: 'boolean' },
    identityClaim: {
      type: 'string',
      description: 'lis.person_sourcedid (default), preferred_username or custom.<name>',
    },
    deploymentIds: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string', format: 'date-time' },
  },
};
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const errors = {
  400: problemResponse('Invalid input (which field and why)'),
  401: problemResponse('Missing or invalid admin token'),
  403: problemResponse('Not a tenant admin token'),
};

export const platformsOpenApi: PathItems = {
  '/api/v1/lti/platforms': {
    get: {
      summary: "The tenant's LTI platform registrations",
      responses: {
        200: json({ type: 'object', properties: { platforms: { type: 'array', items: platformSchema } } }, 'Platforms'),
        ...errors,
      },
    },
    post: {
      summary: 'Register an LTI 1.3 platform with its first deployment',
      description:
        'Registering the same (issuer, clientId) again adds the deployment and updates endpoints and policy. The same (issuer, clientId) may serve several tenants; (issuer, clientId, deploymentId) names exactly one tenant.',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['issuer', 'clientId', 'deploymentId', 'authLoginUrl', 'authTokenUrl', 'jwksUrl'],
              properties: {
                issuer: { type: 'string' },
                clientId: { type: 'string' },
                deploymentId: { type: 'string' },
                authLoginUrl: { type: 'string', format: 'uri' },
                authTokenUrl: { type: 'string', format: 'uri' },
                jwksUrl: { type: 'string', format: 'uri' },
                trustEmail: { type: 'boolean', default: false },
                jitCreate: { type: 'boolean', default: false },
                identityClaim: { type: 'string', default: 'lis.person_sourcedid' },
              },
            },
          },
        },
      },
      responses: {
        201: json(platformSchema, 'The registration'),
        ...errors,
        409: problemResponse('That deployment is already registered (to this or another tenant)'),
      },
    },
  },
  '/api/v1/lti/platforms/{id}': {
    get: {
      summary: 'One platform registration',
      parameters: [{ name: 'id', in: 'path', required: true }],
      responses: {
        200: json(platformSchema, 'The registration'),
        ...errors,
        404: problemResponse('No such platform in this tenant'),
      },
    },
  },
  '/api/v1/lti/platforms/{id}/deployments': {
    post: {
      summary: 'Add a deployment to a platform registration',
      parameters: [{ name: 'id', in: 'path', required: true }],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', required: ['deploymentId'], properties: { deploymentId: { type: 'string' } } },
          },
        },
      },
      responses: {
        201: json(platformSchema, 'The registration'),
        ...errors,
        404: problemResponse('No such platform in this tenant'),
        409: problemResponse('Deployment already registered'),
      },
    },
  },
  '/api/v1/lti/registration-links': {
    post: {
      summary: 'A one-time LTI Dynamic Registration link for this tenant',
      responses: {
        201: json(
          {
            type: 'object',
            properties: { url: { type: 'string', format: 'uri' }, expiresAt: { type: 'string', format: 'date-time' } },
          },
          'The link',
        ),
        ...errors,
      },
    },
  },
};
