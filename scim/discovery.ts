import { Hono } from 'hono';
import { NotFoundError } from '../src/errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, scimJson, type ScimDeps } from './common.js';
import { allSchemas, commonAttributes, URN, type SchemaDef } from './schemas.js';

/**
 * Discovery (RFC 7644 §4) that tells the truth: every capability advertised here is implemented
 * and tested, and the schemas are the same data the server validates and filters with.
 */
export function serviceProviderConfig(deps: ScimDeps) {
  const base = `${deps.config.publicUrl}/scim/v2`;
  return {
    schemas: [URN.spConfig],
    documentationUri: `${deps.config.publicUrl}/docs`,
    patch: { supported: true },
    bulk: {
      supported: true,
      maxOperations: deps.config.scim.bulkMaxOperations,
      maxPayloadSize: deps.config.scim.bulkMaxPayloadBytes,
    },
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    // RFC 9865 §5
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: DEFAULT_PAGE_SIZE,
      maxPageSize: MAX_PAGE_SIZE,
    },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A tenant SCIM token (rb_scim_…) in the Authorization header',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

function resourceTypes(deps: ScimDeps) {
  const base = `${deps.config.publicUrl}/scim/v2`;
  return [
    {
      schemas: [URN.resourceType],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: URN.user,
      schemaExtensions: [{ schema: URN.enterprise, required: false }],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [URN.resourceType],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: URN.group,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
}

function schemaResource(deps: ScimDeps, s: SchemaDef) {
  const core = s.id === URN.enterprise ? [] : commonAttributes.filter((a) => a.name === 'externalId');
  return {
    schemas: [URN.schema],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: [...core, ...s.attributes],
    meta: { resourceType: 'Schema', location: `${deps.config.publicUrl}/scim/v2/Schemas/${s.id}` },
  };
}

const list = (resources: unknown[]) => ({
  schemas: [URN.listResponse],
  totalResults: resources.length,
  itemsPerPage: resources.length,
  startIndex: 1,
  Resources: resources,
});

export function discoveryRoutes(deps: ScimDeps) {
  const app = new Hono();
  app.get('/ServiceProviderConfig', () => scimJson(serviceProviderConfig(deps)));
  app.get('/ResourceTypes', () => scimJson(list(resourceTypes(deps))));
  app.get('/ResourceTypes/:id', (c) => {
    const rt = resourceTypes(deps).find((r) => r.id.toLowerCase() === c.req.param('id').toLowerCase());
    if (!rt) throw new NotFoundError(`No resource type ${c.req.param('id')}`);
    return scimJson(rt);
  });
  app.get('/Schemas', () => scimJson(list(allSchemas.map((s) => schemaResource(deps, s)))));
  app.get('/Schemas/:id', (c) => {
    const s = allSchemas.find((x) => x.id.toLowerCase() === c.req.param('id').toLowerCase());
    if (!s) throw new NotFoundError(`No schema ${c.req.param('id')}`);
    return scimJson(schemaResource(deps, s));
  });
  return app;
}
