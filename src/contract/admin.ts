import { createRoute, z } from '@hono/zod-openapi';
import { adminErrors, json, jsonBody, problem, uuidParam } from './common.js';

/**
 * What the school admin page shows, for scripts too (tenant admin token): the provisioning log,
 * the launch log, an overview (seats, people by status, last successful SCIM call, the URLs to
 * paste into the IdP and the LMS) and the SCIM tokens.
 */
const logQuery = z.object({
  limit: z.string().optional().openapi({ type: 'integer', description: 'page size, at most 200 (default 50)' }),
  before: z
    .string()
    .regex(/^\d{1,18}$/, 'before: an entry id from `next`')
    .optional()
    .openapi({ description: 'the `next` of the previous page' }),
  failed: z.enum(['true', 'false']).optional().openapi({ description: 'true: only refused requests or launches' }),
});

export const ProvisioningLogEntry = z
  .object({
    id: z.number().int(),
    at: z.string().datetime(),
    method: z.string(),
    resource: z.string().openapi({ description: 'Users, Groups, Bulk, Users/.search, ServiceProviderConfig, …' }),
    target: z
      .object({ kind: z.enum(['person', 'group']), id: z.string(), name: z.string().nullable() })
      .nullable()
      .openapi({ description: 'the person or group the request named or created, as it is now' }),
    operations: z.number().int().nullable().openapi({ description: 'Bulk: the operations it carried' }),
    status: z.number().int(),
    detail: z.string().nullable().openapi({ description: 'what was wrong, for a refused request' }),
  })
  .openapi('ProvisioningLogEntry');

export const LaunchLogEntry = z
  .object({
    id: z.number().int(),
    at: z.string().datetime(),
    ok: z.boolean(),
    failedCheck: z
      .string()
      .nullable()
      .openapi({ description: 'the launch check that refused it (state, signature, …)' }),
    detail: z.string().nullable(),
    platform: z.string().nullable().openapi({ description: "the LMS's issuer" }),
    deploymentId: z.string().nullable(),
    person: z.object({ id: z.string(), name: z.string().nullable() }).nullable(),
    course: z.object({ id: z.string(), title: z.string() }).nullable(),
    roles: z.array(z.string()),
  })
  .openapi('LaunchLogEntry');

const logPage = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next: z.number().int().nullable().openapi({ description: 'pass as `before`' }) });

export const getProvisioningLog = createRoute({
  method: 'get',
  path: '/tenant/provisioning-log',
  summary: 'The last SCIM requests of this tenant, newest first (no bodies)',
  request: { query: logQuery },
  responses: {
    200: json(logPage(ProvisioningLogEntry), 'A page of the log'),
    400: problem('Bad query'),
    ...adminErrors,
  },
});

export const getLaunchLog = createRoute({
  method: 'get',
  path: '/tenant/launch-log',
  summary: 'The last LTI launches of this tenant, newest first; refused ones name their check',
  request: { query: logQuery },
  responses: { 200: json(logPage(LaunchLogEntry), 'A page of the log'), 400: problem('Bad query'), ...adminErrors },
});

export const Overview = z
  .object({
    name: z.string(),
    seatLimit: z.number().int().nullable(),
    seatsUsed: z.number().int(),
    peopleByStatus: z.record(z.string(), z.number().int()),
    lastScimSuccessAt: z.string().datetime().nullable(),
    scimBaseUrl: z.string().url(),
    toolUrls: z.object({
      login: z.string().url(),
      launch: z.string().url(),
      jwks: z.string().url(),
      deepLinking: z.string().url(),
      adminPage: z.string().url(),
    }),
  })
  .openapi('AdminOverview');

export const getOverview = createRoute({
  method: 'get',
  path: '/tenant/overview',
  summary: 'Seats, people by status, the last successful SCIM call and the URLs to paste into the IdP and the LMS',
  responses: { 200: json(Overview, 'The overview'), ...adminErrors },
});

export const ScimToken = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    createdAt: z.string().datetime(),
    expiresAt: z.string().datetime().nullable(),
    revokedAt: z.string().datetime().nullable(),
    lastUsedAt: z.string().datetime().nullable(),
  })
  .openapi('ScimToken');

export const listScimTokens = createRoute({
  method: 'get',
  path: '/tenant/scim-tokens',
  summary: "The tenant's SCIM tokens (never their secrets)",
  responses: { 200: json(z.object({ items: z.array(ScimToken) }), 'Oldest first'), ...adminErrors },
});

export const CreateScimTokenBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    expiresIn: z
      .string()
      .regex(/^\d+\s*[smhdw]$/, 'expiresIn: a number and s, m, h, d or w, e.g. 90d')
      .optional(),
  })
  .strict();

export const createScimToken = createRoute({
  method: 'post',
  path: '/tenant/scim-tokens',
  summary: 'Create a SCIM token for the IdP; the secret is in this answer only',
  request: { body: jsonBody(CreateScimTokenBody) },
  responses: {
    201: json(ScimToken.extend({ token: z.string() }), 'Created; `token` is shown once'),
    400: problem('Invalid name or expiry'),
    ...adminErrors,
  },
});

export const revokeScimToken = createRoute({
  method: 'delete',
  path: '/tenant/scim-tokens/{id}',
  summary: 'Revoke a SCIM token at once (revoking twice is a no-op)',
  request: { params: z.object({ id: uuidParam('id: a SCIM token id') }) },
  responses: { 200: json(ScimToken, 'Revoked'), 404: problem('No such SCIM token'), ...adminErrors },
});
