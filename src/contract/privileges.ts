import { createRoute, z } from '@hono/zod-openapi';
import { membershipInput } from '../domain/memberships.js';
import { catalogueEntry, grantListsInput, roleDefaultsInput } from '../domain/privileges/index.js';
import {
  adminErrors,
  authErrors,
  CourseParams,
  CoursePersonParams,
  courseRef,
  json,
  jsonBody,
  limitQuery,
  problem,
  uuidParam,
} from './common.js';

/** Course grants, effective privileges and why, memberships, bulk, groups, catalogue, invitations, merge, audit. */

const notFound = { 404: problem('No such course/person in this tenant') };
const courseErrors = { ...authErrors, ...notFound };
const described = (description: string) => ({ description });

/** A non-empty string, trimmed (the words the handlers used before the contract). */
const required = () => z.string({ error: 'required (a string)' }).trim().min(1, 'required (a string)');

export const Why = z
  .array(
    z.object({
      source: z.enum(['role', 'group', 'grant', 'status']),
      effect: z.enum(['allow', 'deny']),
      role: z.string().optional(),
      groupId: z.string().optional(),
      groupName: z.string().optional(),
      grantId: z.string().optional(),
      status: z.string().optional(),
      detail: z.string().optional(),
    }),
  )
  .openapi('Why');

/* --- course privileges --- */

export const listCoursePrivileges = createRoute({
  method: 'get',
  path: '/courses/{id}/privileges',
  summary: "The course's people with allow, deny and effective privileges",
  request: {
    params: CourseParams,
    query: z.object({ after: uuidParam('a cursor from `next`').optional(), limit: limitQuery(500, 100) }),
  },
  responses: { 200: described('{course, items, next, groups}'), ...courseErrors },
});

export const setPersonPrivileges = createRoute({
  method: 'put',
  path: '/courses/{id}/privileges/{personRef}',
  summary: "Set a person's allow/deny lists in the course",
  description:
    'An unknown email or key creates an invited placeholder person (201) and queues an invitation mail. ' +
    'Several matching people: 409 with candidates.',
  request: { params: CoursePersonParams, body: jsonBody(grantListsInput) },
  responses: {
    200: described('Set'),
    201: described('Set; a placeholder person was created'),
    400: problem('Unknown privilege (valid ones listed), malformed email'),
    409: problem('Several people match, or the last holder of privileges.manage would go'),
    ...courseErrors,
  },
});

export const clearPersonPrivileges = createRoute({
  method: 'delete',
  path: '/courses/{id}/privileges/{personRef}',
  summary: "Remove a person's grants in the course",
  request: { params: CoursePersonParams },
  responses: { 200: described('{removed}'), ...courseErrors },
});

export const effectivePrivileges = createRoute({
  method: 'get',
  path: '/courses/{id}/privileges/{personRef}',
  summary: 'Effective privileges of a person with why',
  request: { params: CoursePersonParams },
  responses: {
    200: described('{courseId, person, allow, deny, effective, decisions[{privilege, allowed, why}]}'),
    ...courseErrors,
  },
});

/* --- authorize --- */

export const AuthorizeBody = z.object({ course: required(), person: required(), privilege: required() });

/**
 * The hot path reads its body itself (fastJsonBody) and parses it with AuthorizeBody, so this
 * contract is documented rather than mounted with validators.
 */
export const authorize = createRoute({
  method: 'post',
  path: '/authorize',
  summary: 'May this person use this privilege in this course?',
  description:
    'Cached per tenant; writes invalidate (triggers + LISTEN/NOTIFY on PostgreSQL, in-process signals otherwise).',
  request: { body: jsonBody(AuthorizeBody) },
  responses: {
    200: json(
      z.object({
        allowed: z.boolean(),
        why: Why,
        privilege: z.string(),
        course: z.string().openapi({ description: 'course id' }),
        person: z.string().openapi({ description: 'person id' }),
      }),
      '{allowed, why}',
    ),
    400: problem('Unknown privilege'),
    ...courseErrors,
  },
});

/* --- memberships --- */

export const listMemberships = createRoute({
  method: 'get',
  path: '/courses/{id}/memberships',
  summary: 'Memberships (roles per person)',
  request: { params: CourseParams },
  responses: { 200: described('{courseId, items}'), ...courseErrors },
});

export const setMembership = createRoute({
  method: 'put',
  path: '/courses/{id}/memberships/{personRef}',
  summary: 'Set roles of a person in the course',
  request: { params: CoursePersonParams, body: jsonBody(membershipInput) },
  responses: { 200: described('Set'), 201: described('Set; placeholder created'), ...courseErrors },
});

export const removeMembership = createRoute({
  method: 'delete',
  path: '/courses/{id}/memberships/{personRef}',
  summary: 'Remove the membership',
  request: { params: CoursePersonParams },
  responses: { 204: described('Removed'), ...courseErrors },
});

/* --- bulk pre-enrolment --- */

export const BulkRow = z.object({
  email: z.string().optional(),
  key: z.string().optional().openapi({ description: 'externalId or userName' }),
  roles: z.array(z.string()).optional(),
  allow: z.array(z.string()).optional(),
  deny: z.array(z.string()).optional(),
});

/**
 * Rows are judged one by one (an invalid row is a result, not a 400), so the domain validates
 * them and this contract is documented rather than mounted with validators.
 */
export const bulkEnrol = createRoute({
  method: 'post',
  path: '/courses/{id}/enrolments',
  summary: 'Bulk pre-enrolment (≤ 10,000 rows)',
  description:
    'Rows {email|key, roles, allow, deny}; per-row status created|updated|unchanged|pending|duplicate|conflict|invalid (unchanged: already exactly as asked). ' +
    '200 all succeeded, 207 some, 422 none, 413 too many rows. Atomic per row, idempotent on retry.',
  request: {
    params: CourseParams,
    body: jsonBody(z.union([z.object({ rows: z.array(BulkRow).max(10_000) }), z.array(BulkRow).max(10_000)])),
  },
  responses: {
    200: described('All rows succeeded'),
    207: described('Some rows succeeded'),
    422: described('No row succeeded'),
    413: problem('Too many rows'),
    ...courseErrors,
  },
});

/* --- group grants --- */

export const listGroupPrivileges = createRoute({
  method: 'get',
  path: '/courses/{id}/group-privileges',
  summary: 'Group grants in the course',
  request: { params: CourseParams },
  responses: { 200: described('{courseId, items}'), ...courseErrors },
});

export const setGroupPrivileges = createRoute({
  method: 'put',
  path: '/courses/{id}/group-privileges/{groupId}',
  summary: "Set a SCIM group's allow/deny lists in the course (applies to members, nested groups included)",
  request: {
    params: z.object({ id: courseRef, groupId: z.string().openapi({ format: 'uuid' }) }),
    body: jsonBody(grantListsInput),
  },
  responses: { 200: described('Set'), ...courseErrors },
});

/* --- catalogue and role defaults --- */

export const listCatalogue = createRoute({
  method: 'get',
  path: '/privileges',
  summary: "The tenant's privilege catalogue",
  responses: { 200: described('{items}'), ...authErrors },
});

export const addCatalogueEntry = createRoute({
  method: 'post',
  path: '/privileges',
  summary: 'Add a privilege to the catalogue (tenant admin)',
  request: { body: jsonBody(catalogueEntry) },
  responses: { 201: described('Added'), 400: problem('Invalid key'), ...adminErrors, 409: problem('Exists') },
});

export const listRoleDefaults = createRoute({
  method: 'get',
  path: '/role-defaults',
  summary: 'LTI role → default privileges (tenant admin)',
  responses: { 200: json(z.record(z.string(), z.array(z.string())), '{role: [privileges]}'), ...adminErrors },
});

export const setRoleDefaults = createRoute({
  method: 'put',
  path: '/role-defaults/{role}',
  summary: "Replace a role's default privileges",
  request: {
    params: z.object({ role: z.string().openapi({ description: 'a short LTI role name such as Instructor' }) }),
    body: jsonBody(roleDefaultsInput),
  },
  responses: { 200: described('Set'), 400: problem('Unknown privilege'), ...adminErrors },
});

/* --- invitations --- */

export const listInvitations = createRoute({
  method: 'get',
  path: '/invitations',
  summary: 'Invitations (tenant admin)',
  request: {
    query: z.object({ person: uuidParam('a person id').optional(), status: z.string().optional() }),
  },
  responses: { 200: described('{items}'), ...adminErrors },
});

export const resendInvitation = createRoute({
  method: 'post',
  path: '/people/{id}/invitation',
  summary: 'Resend the invitation (new single-use link, expiry restarts)',
  request: { params: z.object({ id: uuidParam('a person id') }) },
  responses: { 202: described('Queued'), ...adminErrors, 409: problem('Not an invited placeholder') },
});

export const acceptInvitation = createRoute({
  method: 'post',
  path: '/invitations/accept',
  summary: 'Redeem an invitation (signed-in session: the placeholder is merged into you)',
  request: { body: jsonBody(z.object({ token: required() })) },
  responses: {
    200: described('Accepted'),
    ...authErrors,
    404: problem('Unknown'),
    409: problem('Used or expired'),
  },
});

/* --- merge --- */

export const mergePeople = createRoute({
  method: 'post',
  path: '/people/{id}/merge',
  summary: 'Merge a placeholder into the real person (tenant admin)',
  description:
    'Grants move (deny wins on conflict), memberships move; the placeholder becomes merged with merged_into. Audited.',
  request: {
    params: z.object({ id: z.string() }),
    body: jsonBody(z.object({ into: required().openapi({ format: 'uuid' }) })),
  },
  responses: { 200: described('Merged'), ...adminErrors, 409: problem('Not a placeholder') },
});

/* --- audit --- */

const isoTime = () =>
  z
    .string()
    .refine((v) => v === '' || !Number.isNaN(new Date(v).getTime()), 'an ISO 8601 time')
    .optional()
    .openapi({ format: 'date-time' });

export const listAudit = createRoute({
  method: 'get',
  path: '/audit',
  summary: 'Audit trail (tenant admin)',
  request: {
    query: z.object({
      course: z.string().optional(),
      person: z.string().optional(),
      actor: z.string().optional(),
      action: z.string().optional(),
      since: isoTime(),
      until: isoTime(),
      before: z.string().optional().openapi({ type: 'integer', description: 'cursor from `next`' }),
      limit: limitQuery(1000, 100),
    }),
  },
  responses: { 200: described('{items, next}'), ...adminErrors },
});

/* --- the caller --- */

export const me = createRoute({
  method: 'get',
  path: '/me',
  summary: 'The caller (session: person and effective privileges in the launch course)',
  responses: { 200: described('Caller'), ...authErrors },
});
