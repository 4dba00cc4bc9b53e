import { createRoute, z } from '@hono/zod-openapi';
import { authErrors, json, limitQuery, Page, personRef, problem, uuidParam } from './common.js';

export const PersonStatus = z.enum(['provisioned', 'invited', 'active', 'suspended', 'deprovisioned', 'merged']);

export const PersonSummary = z
  .object({
    id: z.string().uuid(),
    status: PersonStatus,
    userName: z.string().nullable(),
    externalId: z.string().nullable(),
    email: z.string().nullable(),
    displayName: z.string().nullable(),
  })
  .openapi('PersonSummary');

export const PersonDetail = PersonSummary.extend({
  active: z.boolean(),
  source: z.string(),
  firstLaunchAt: z.string().datetime().nullable(),
  mergedInto: z.string().uuid().nullable(),
  emails: z.array(z.object({ value: z.string(), type: z.string().nullable(), primary: z.boolean() })),
}).openapi('PersonDetail');

export const searchPeople = createRoute({
  method: 'get',
  path: '/people',
  summary: 'Search people by name, email, userName or externalId',
  description: 'Substring match, case-insensitive, done in SQL. Paged by id: pass `next` as `after`.',
  request: {
    query: z.object({
      q: z.string().optional(),
      limit: limitQuery(200, 25),
      after: uuidParam('a cursor from `next`').optional(),
    }),
  },
  responses: { 200: json(Page(PersonSummary), 'A page of people'), ...authErrors },
});

export const getPerson = createRoute({
  method: 'get',
  path: '/people/{ref}',
  summary: 'One person with status',
  request: { params: z.object({ ref: personRef }) },
  responses: {
    200: json(PersonDetail, 'The person'),
    ...authErrors,
    404: problem('Nobody matches in this tenant'),
    409: problem('Several people match: candidates listed'),
  },
});
