import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';

/**
 * SCIM 2.0 (RFC 7644) operations for the document. They are implemented by scim/routes.ts, a plain
 * Hono router with its own parsing and error format; here they are only described.
 */
const SCIM = 'application/scim+json';
const tags = ['SCIM 2.0'];

const ScimError = z
  .object({
    schemas: z.array(z.string()),
    status: z.string(),
    scimType: z.string().optional(),
    detail: z.string().optional(),
  })
  .openapi('ScimError');
const ScimResource = z.record(z.string(), z.unknown()).openapi('ScimResource', {
  description: 'A SCIM resource (RFC 7643): User with the enterprise extension, or Group',
});
const ListResponse = z
  .object({
    schemas: z.array(z.string()),
    totalResults: z.number().int(),
    startIndex: z.number().int(),
    itemsPerPage: z.number().int(),
    Resources: z.array(ScimResource),
  })
  .openapi('ScimListResponse');

const scim = (schema: z.ZodType, description: string) => ({ description, content: { [SCIM]: { schema } } });
const body = (description: string) => ({ required: true, content: { [SCIM]: { schema: ScimResource } }, description });
const errors = {
  400: scim(ScimError, 'Invalid request (scimType says which kind)'),
  401: scim(ScimError, 'Missing or invalid SCIM token'),
  403: scim(ScimError, 'Not a SCIM token'),
  429: scim(ScimError, 'Rate limited (Retry-After)'),
};
const notFound = { 404: scim(ScimError, 'No such resource in this tenant') };
const listQuery = z.object({
  filter: z.string().optional().openapi({ description: 'RFC 7644 §3.4.2.2 filter, e.g. userName eq "ada"' }),
  startIndex: z.string().optional().openapi({ type: 'integer', description: '1-based' }),
  count: z.string().optional().openapi({ type: 'integer' }),
  sortBy: z.string().optional(),
  sortOrder: z.enum(['ascending', 'descending']).optional(),
  attributes: z.string().optional(),
  excludedAttributes: z.string().optional(),
});
const idParams = z.object({ id: z.string().openapi({ description: 'resource id' }) });

function resourceOperations(name: 'Users' | 'Groups', one: string) {
  const path = `/scim/v2/${name}`;
  return [
    createRoute({
      method: 'get',
      path,
      tags,
      summary: `List or filter ${name}`,
      request: { query: listQuery },
      responses: { 200: scim(ListResponse, 'A page of resources'), ...errors },
    }),
    createRoute({
      method: 'post',
      path,
      tags,
      summary: `Create a ${one}`,
      request: { body: body(`The ${one}`) },
      responses: { 201: scim(ScimResource, 'Created'), ...errors, 409: scim(ScimError, 'uniqueness') },
    }),
    createRoute({
      method: 'post',
      path: `${path}/.search`,
      tags,
      summary: `Search ${name} (SearchRequest body)`,
      request: { body: body('A SearchRequest (filter, startIndex, count, …)') },
      responses: { 200: scim(ListResponse, 'A page of resources'), ...errors },
    }),
    createRoute({
      method: 'get',
      path: `${path}/{id}`,
      tags,
      summary: `One ${one}`,
      request: { params: idParams },
      responses: { 200: scim(ScimResource, `The ${one}`), ...errors, ...notFound },
    }),
    createRoute({
      method: 'put',
      path: `${path}/{id}`,
      tags,
      summary: `Replace a ${one}`,
      request: { params: idParams, body: body(`The ${one}`) },
      responses: { 200: scim(ScimResource, 'Replaced'), ...errors, ...notFound },
    }),
    createRoute({
      method: 'patch',
      path: `${path}/{id}`,
      tags,
      summary: `Modify a ${one} (PatchOp)`,
      request: { params: idParams, body: body('A PatchOp message (RFC 7644 §3.5.2)') },
      responses: { 200: scim(ScimResource, 'Modified'), 204: { description: 'Modified' }, ...errors, ...notFound },
    }),
    createRoute({
      method: 'delete',
      path: `${path}/{id}`,
      tags,
      summary: `Delete a ${one}`,
      request: { params: idParams },
      responses: { 204: { description: 'Deleted' }, ...errors, ...notFound },
    }),
  ];
}

export const scimOperations = [
  ...resourceOperations('Users', 'user'),
  ...resourceOperations('Groups', 'group'),
  createRoute({
    method: 'get',
    path: '/scim/v2/ServiceProviderConfig',
    tags,
    summary: 'What this service provider supports (patch, bulk, filter, sort, etag)',
    responses: { 200: scim(ScimResource, 'ServiceProviderConfig'), ...errors },
  }),
  createRoute({
    method: 'get',
    path: '/scim/v2/ResourceTypes',
    tags,
    summary: 'Resource types (User, Group)',
    responses: { 200: scim(ListResponse, 'ResourceTypes'), ...errors },
  }),
  createRoute({
    method: 'get',
    path: '/scim/v2/ResourceTypes/{id}',
    tags,
    summary: 'One resource type',
    request: { params: idParams },
    responses: { 200: scim(ScimResource, 'ResourceType'), ...errors, ...notFound },
  }),
  createRoute({
    method: 'get',
    path: '/scim/v2/Schemas',
    tags,
    summary: 'Schemas of the resources and extensions',
    responses: { 200: scim(ListResponse, 'Schemas'), ...errors },
  }),
  createRoute({
    method: 'get',
    path: '/scim/v2/Schemas/{id}',
    tags,
    summary: 'One schema',
    request: { params: idParams },
    responses: { 200: scim(ScimResource, 'Schema'), ...errors, ...notFound },
  }),
  createRoute({
    method: 'post',
    path: '/scim/v2/.search',
    tags,
    summary: 'Search Users and Groups together',
    request: { body: body('A SearchRequest') },
    responses: { 200: scim(ListResponse, 'A page of resources'), ...errors },
  }),
  createRoute({
    method: 'post',
    path: '/scim/v2/Bulk',
    tags,
    summary: 'Bulk operations (maxOperations and maxPayloadSize as advertised)',
    request: { body: body('A BulkRequest (RFC 7644 §3.7)') },
    responses: {
      200: scim(ScimResource, 'A BulkResponse, one result per operation'),
      ...errors,
      413: scim(ScimError, 'Over maxPayloadSize or maxOperations'),
    },
  }),
];

export function describeScim(app: OpenAPIHono) {
  for (const route of scimOperations) app.openAPIRegistry.registerPath(route);
}
