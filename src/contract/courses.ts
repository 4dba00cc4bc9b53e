import { createRoute, z } from '@hono/zod-openapi';
import { courseInput, courseUpdate } from '../domain/courses.js';
import { adminErrors, authErrors, CourseParams, json, jsonBody, limitQuery, Page, problem } from './common.js';

export const Course = z
  .object({
    id: z.string().uuid(),
    title: z.string(),
    externalKey: z.string().nullable(),
    ltiContextId: z.string().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('Course');

export const createCourse = createRoute({
  method: 'post',
  path: '/courses',
  summary: 'Create a course (tenant admin)',
  request: { body: jsonBody(courseInput, 'title, and the SIS id as externalKey (unique per tenant)') },
  responses: {
    201: json(Course, 'Created'),
    400: problem('Invalid input'),
    ...adminErrors,
    409: problem('External key taken'),
  },
});

export const listCourses = createRoute({
  method: 'get',
  path: '/courses',
  summary: 'List courses (tenant admin), by title',
  request: {
    query: z.object({
      q: z.string().optional().openapi({ description: 'substring of title or external key' }),
      limit: limitQuery(200, 50),
      after: z.string().optional().openapi({ description: 'cursor from `next`' }),
    }),
  },
  responses: { 200: json(Page(Course), 'A page of courses'), ...adminErrors },
});

export const getCourse = createRoute({
  method: 'get',
  path: '/courses/{id}',
  summary: 'One course',
  request: { params: CourseParams },
  responses: {
    200: json(Course, 'The course'),
    ...authErrors,
    404: problem('No such course in this tenant'),
  },
});

export const updateCourse = createRoute({
  method: 'patch',
  path: '/courses/{id}',
  summary: 'Change title or SIS key (tenant admin)',
  request: { params: CourseParams, body: jsonBody(courseUpdate) },
  responses: {
    200: json(Course, 'Updated'),
    400: problem('Invalid input'),
    ...adminErrors,
    404: problem('No such course'),
    409: problem('External key taken'),
  },
});

export const deleteCourse = createRoute({
  method: 'delete',
  path: '/courses/{id}',
  summary: 'Delete (soft) a course (tenant admin)',
  request: { params: CourseParams },
  responses: { 204: { description: 'Deleted' }, ...adminErrors, 404: problem('No such course') },
});
