import { Hono } from 'hono';
import type { Store } from '../db/store.js';
import { createCourse, deleteCourse, getCourse, listCourses, updateCourse } from '../domain/courses.js';
import { effectiveOne } from '../domain/privileges/index.js';
import { ForbiddenError } from '../errors.js';
import { actorOf, jsonBody, principalOf, requireAdmin } from './api-auth.js';
import { problemResponse, type PathItems } from './openapi.js';

/** Courses: create (title, SIS key), list, get. LTI launches create them too (lti/ → launch-course). */
export function courseRoutes(store: Store) {
  const app = new Hono();
  app.post('/courses', requireAdmin, async (c) => {
    const p = principalOf(c);
    return c.json(await createCourse(store, actorOf(c), p.tenantId, await jsonBody(c)), 201);
  });
  app.get('/courses', requireAdmin, async (c) => {
    const p = principalOf(c);
    const limit = c.req.query('limit');
    return c.json(
      await listCourses(store, p.tenantId, {
        q: c.req.query('q') || undefined,
        after: c.req.query('after') || undefined,
        limit: limit ? Number(limit) || 50 : undefined,
      }),
    );
  });
  app.patch('/courses/:id', requireAdmin, async (c) =>
    c.json(await updateCourse(store, actorOf(c), principalOf(c).tenantId, c.req.param('id'), await jsonBody(c))),
  );
  app.delete('/courses/:id', requireAdmin, async (c) => {
    await deleteCourse(store, actorOf(c), principalOf(c).tenantId, c.req.param('id'));
    return c.body(null, 204);
  });
  app.get('/courses/:id', async (c) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, c.req.param('id'));
    if (p.kind === 'session') {
      const eff = await effectiveOne(store, p.tenantId, course.id, p.personId);
      if (!eff.effective.includes('course.view')) throw new ForbiddenError('You need course.view in this course');
    }
    return c.json(course);
  });
  return app;
}

const course = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    title: { type: 'string' },
    externalKey: { type: ['string', 'null'] },
    ltiContextId: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
  },
};
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'course id or key:<SIS key>',
  schema: { type: 'string' },
};

export const coursesOpenApi: PathItems = {
  '/api/v1/courses': {
    post: {
      summary: 'Create a course (tenant admin)',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['title'],
              properties: {
                title: { type: 'string' },
                externalKey: { type: 'string', description: 'SIS id, unique per tenant' },
              },
            },
          },
        },
      },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: course } } },
        400: problemResponse('Invalid input'),
        409: problemResponse('External key taken'),
      },
    },
    get: {
      summary: 'List courses (tenant admin), by title',
      parameters: [
        { name: 'q', in: 'query', description: 'substring of title or external key', schema: { type: 'string' } },
        { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 200 } },
        { name: 'after', in: 'query', description: 'cursor from `next`', schema: { type: 'string' } },
      ],
      responses: { 200: { description: '{items, next}' } },
    },
  },
  '/api/v1/courses/{id}': {
    get: {
      summary: 'One course',
      parameters: [idParam],
      responses: {
        200: { description: 'The course', content: { 'application/json': { schema: course } } },
        404: problemResponse('No such course in this tenant'),
      },
    },
    patch: {
      summary: 'Change title or SIS key (tenant admin)',
      parameters: [idParam],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: { title: { type: 'string' }, externalKey: { type: ['string', 'null'] } },
            },
          },
        },
      },
      responses: {
        200: { description: 'Updated', content: { 'application/json': { schema: course } } },
        404: problemResponse('No such course'),
        409: problemResponse('External key taken'),
      },
    },
    delete: {
      summary: 'Delete (soft) a course (tenant admin)',
      parameters: [idParam],
      responses: { 204: { description: 'Deleted' }, 404: problemResponse('No such course') },
    },
  },
};
