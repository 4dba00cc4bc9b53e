import { createRoute, z } from '@hono/zod-openapi';
import { platformInput } from '../domain/platforms.js';
import { adminErrors, json, jsonBody, problem, uuidParam } from './common.js';

export const Platform = z
  .object({
    id: z.string().uuid(),
    tenantId: z.string().uuid(),
    issuer: z.string(),
    clientId: z.string(),
    authLoginUrl: z.string().url(),
    authTokenUrl: z.string().url(),
    jwksUrl: z.string().url(),
    trustEmail: z.boolean(),
    jitCreate: z.boolean(),
    identityClaim: z
      .string()
      .openapi({ description: 'lis.person_sourcedid (default), preferred_username or custom.<name>' }),
    deploymentIds: z.array(z.string()),
    frameOrigins: z.array(z.string()).openapi({
      description:
        "Origins the platform's signed launches named as where it shows the tool (launch_presentation.return_url, " +
        'tool_platform.url); with the issuer and login endpoint, the only origins that may frame the tool’s pages',
    }),
    createdAt: z.string().datetime(),
  })
  .openapi('Platform');

const errors = { 400: problem('Invalid input (which field and why)'), ...adminErrors };

export const listPlatforms = createRoute({
  method: 'get',
  path: '/lti/platforms',
  summary: "The tenant's LTI platform registrations",
  responses: { 200: json(z.object({ platforms: z.array(Platform) }), 'Platforms'), ...errors },
});

export const addPlatform = createRoute({
  method: 'post',
  path: '/lti/platforms',
  summary: 'Register an LTI 1.3 platform with its first deployment',
  description:
    'Registering the same (issuer, clientId) again adds the deployment and updates endpoints and policy. ' +
    'The same (issuer, clientId) may serve several tenants; (issuer, clientId, deploymentId) names exactly one tenant.',
  request: { body: jsonBody(platformInput) },
  responses: {
    201: json(Platform, 'The registration'),
    ...errors,
    409: problem('That deployment is already registered (to this or another tenant)'),
  },
});

export const getPlatform = createRoute({
  method: 'get',
  path: '/lti/platforms/{id}',
  summary: 'One platform registration',
  request: { params: z.object({ id: z.string() }) },
  responses: { 200: json(Platform, 'The registration'), ...errors, 404: problem('No such platform in this tenant') },
});

export const addDeployment = createRoute({
  method: 'post',
  path: '/lti/platforms/{id}/deployments',
  summary: 'Add a deployment to a platform registration',
  request: {
    params: z.object({ id: uuidParam('Platform id must be a UUID') }),
    body: jsonBody(platformInput.pick({ deploymentId: true })),
  },
  responses: {
    201: json(Platform, 'The registration'),
    ...errors,
    404: problem('No such platform in this tenant'),
    409: problem('Deployment already registered'),
  },
});

export const forgetFrameOrigin = createRoute({
  method: 'delete',
  path: '/lti/platforms/{id}/frame-origins',
  summary: 'Forget a place the platform was seen showing the tool',
  description:
    'Its pages may no longer be framed at that origin, until a signed launch from the platform names it again.',
  request: {
    params: z.object({ id: uuidParam('Platform id must be a UUID') }),
    query: z.object({
      origin: z.string().min(1).max(2000).openapi({ description: 'The origin, e.g. https://school.instructure.com' }),
    }),
  },
  responses: {
    200: json(Platform, 'The registration'),
    ...errors,
    404: problem('No such platform in this tenant, or that origin is not learned'),
  },
});

export const createRegistrationLink = createRoute({
  method: 'post',
  path: '/lti/registration-links',
  summary: 'A one-time LTI Dynamic Registration link for this tenant',
  responses: {
    201: json(z.object({ url: z.string().url(), expiresAt: z.string().datetime() }), 'The link'),
    ...errors,
  },
});
