import { createRoute, z } from '@hono/zod-openapi';
import { authErrors, CourseParams, CoursePersonParams, json, limitQuery, problem } from './common.js';

/** What the course admin page reads beyond the privileges API: access, history, invitations. */

const notFound = { 404: problem('No such course/person in this tenant') };

export const CourseAccess = z
  .object({
    course: z.object({ id: z.string().uuid(), title: z.string() }).passthrough(),
    level: z.enum(['manage', 'view', 'none']),
    missing: z.array(z.string()).openapi({ description: 'privileges the caller lacks to manage the course' }),
    privileges: z.array(z.string()).openapi({ description: "the caller's effective privileges here" }),
    you: z.string(),
    managers: z.array(z.string()).openapi({ description: 'names of people who hold privileges.manage here' }),
  })
  .openapi('CourseAccess');

export const courseAccess = createRoute({
  method: 'get',
  path: '/courses/{id}/access',
  summary: 'What the caller may do on the course admin page, and whom to ask for more',
  description: 'A session: its own access. A tenant admin token: manage.',
  request: { params: CourseParams },
  responses: { 200: json(CourseAccess, 'The caller’s access'), ...authErrors, ...notFound },
});

export const HistoryPage = z
  .object({
    items: z.array(
      z.object({
        id: z.number().int(),
        at: z.string().datetime(),
        actor: z.string().openapi({ description: 'who did it, by name' }),
        action: z.string(),
        text: z.string().openapi({ description: 'the event as a sentence' }),
      }),
    ),
    next: z.number().int().nullable().openapi({ description: 'pass as `before` for the next page' }),
  })
  .openapi('CourseHistory');

export const courseHistory = createRoute({
  method: 'get',
  path: '/courses/{id}/history',
  summary: "The course's recent changes in plain words, newest first",
  description: 'Needs privileges.manage or members.view in the course (a session).',
  request: {
    params: CourseParams,
    query: z.object({
      before: z
        .string()
        .regex(/^\d{1,15}$/, 'before: a cursor from `next`')
        .optional()
        .openapi({ type: 'integer' }),
      limit: limitQuery(100, 20),
    }),
  },
  responses: { 200: json(HistoryPage, 'A page of history'), ...authErrors, ...notFound },
});

export const invitePerson = createRoute({
  method: 'post',
  path: '/courses/{id}/people/{personRef}/invitation',
  summary: 'Send (or send again) the invitation of a person of the course who has not signed in yet',
  description: 'A new single-use link; the old one stops working. Needs privileges.manage in the course.',
  request: { params: CoursePersonParams },
  responses: {
    202: json(
      z.object({ email: z.string(), sentCount: z.number().int(), expiresAt: z.string() }).passthrough(),
      'Queued',
    ),
    ...authErrors,
    ...notFound,
    409: problem('The person is not waiting for a first sign-in, or has no email'),
  },
});
