import { createRoute, z } from '@hono/zod-openapi';
import { adminErrors, authErrors, CourseParams, courseRef, json, jsonBody, problem, uuidParam } from './common.js';

/** LMS roster sync (LTI NRPS): start a sync of a course, follow it, list recent ones; the tenant's schedule. */
export const RosterSync = z
  .object({
    id: z.string().uuid(),
    courseId: z.string().uuid(),
    trigger: z.enum(['launch', 'api', 'cli', 'schedule']),
    requestedBy: z.string(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed']),
    mode: z.enum(['full', 'differences']).nullable(),
    attempts: z.number().int().openapi({ description: 'HTTP requests it took, retries included' }),
    counts: z.object({
      members: z.number().int(),
      added: z.number().int().openapi({ description: 'memberships created or reactivated' }),
      updated: z.number().int().openapi({ description: 'memberships whose roles changed' }),
      ended: z.number().int().openapi({ description: 'memberships ended (left the roster, or Inactive/Deleted)' }),
      unchanged: z.number().int(),
      errors: z.number().int().openapi({ description: 'members that could not be placed (see problems)' }),
    }),
    problems: z.array(z.object({ userId: z.string(), reason: z.string(), message: z.string() })),
    error: z.string().nullable().openapi({ description: 'why a failed sync failed' }),
    createdAt: z.string().datetime(),
    startedAt: z.string().datetime().nullable(),
    finishedAt: z.string().datetime().nullable(),
  })
  .openapi('RosterSync');

const SyncParams = z.object({ id: courseRef, syncId: uuidParam('syncId: a roster sync id') });

export const startSync = createRoute({
  method: 'post',
  path: '/courses/{id}/roster/sync',
  summary: "Sync the course's roster from its LMS now (a tenant admin, or course staff with privileges.manage)",
  description:
    'Queues a sync and answers at once; a sync already queued or running for the course is returned instead of a second one. Follow it with GET …/roster/sync/{syncId}.',
  request: { params: CourseParams },
  responses: {
    202: json(RosterSync, 'Queued (or the open sync of this course); Location names it'),
    ...authErrors,
    404: problem('No such course in this tenant'),
    409: problem('The course has no LMS roster yet (no launch with the Names and Roles claim)'),
  },
});

export const getSync = createRoute({
  method: 'get',
  path: '/courses/{id}/roster/sync/{syncId}',
  summary: 'One roster sync: status and counts',
  request: { params: SyncParams },
  responses: { 200: json(RosterSync, 'The sync'), ...authErrors, 404: problem('No such sync for this course') },
});

export const listSyncs = createRoute({
  method: 'get',
  path: '/courses/{id}/roster/syncs',
  summary: "The course's recent roster syncs, newest first",
  request: { params: CourseParams },
  responses: {
    200: json(z.object({ items: z.array(RosterSync) }), 'Up to 20 syncs'),
    ...authErrors,
    404: problem('No such course in this tenant'),
  },
});

export const RosterSchedule = z
  .object({
    everyMinutes: z
      .number()
      .int()
      .min(15)
      .max(10080)
      .nullable()
      .openapi({ description: 'sync every course with a known roster this often; null: no schedule' }),
  })
  .openapi('RosterSchedule');

export const putSchedule = createRoute({
  method: 'put',
  path: '/roster/schedule',
  summary: "Set the tenant's roster sync schedule (tenant admin)",
  request: { body: jsonBody(RosterSchedule) },
  responses: { 200: json(RosterSchedule, 'Set'), 400: problem('Invalid input'), ...adminErrors },
});
