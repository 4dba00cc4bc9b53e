import type { Store } from '../db/store.js';
import { createCourse, deleteCourse, getCourse, listCourses, updateCourse } from '../domain/courses.js';
import { effectiveOne } from '../domain/privileges/index.js';
import { ForbiddenError } from '../errors.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/courses.js';
import { actorOf, principalOf, requireAdmin } from './api-auth.js';

/** Courses: create (title, SIS key), list, get. LTI launches create them too (lti/ → launch-course). */
export function courseRoutes(store: Store) {
  const app = contractRouter();
  app.openapi({ ...contract.createCourse, middleware: [requireAdmin] }, async (c) => {
    const p = principalOf(c);
    return c.json(await createCourse(store, actorOf(c), p.tenantId, c.req.valid('json')), 201);
  });
  app.openapi({ ...contract.listCourses, middleware: [requireAdmin] }, async (c) => {
    const { q, after, limit } = c.req.valid('query');
    return c.json(
      await listCourses(store, principalOf(c).tenantId, {
        q: q || undefined,
        after: after || undefined,
        limit: limit ? Number(limit) || 50 : undefined,
      }),
      200,
    );
  });
  app.openapi({ ...contract.updateCourse, middleware: [requireAdmin] }, async (c) =>
    c.json(
      await updateCourse(store, actorOf(c), principalOf(c).tenantId, c.req.valid('param').id, c.req.valid('json')),
      200,
    ),
  );
  app.openapi({ ...contract.deleteCourse, middleware: [requireAdmin] }, async (c) => {
    await deleteCourse(store, actorOf(c), principalOf(c).tenantId, c.req.valid('param').id);
    return c.body(null, 204);
  });
  app.openapi(contract.getCourse, async (c) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, c.req.valid('param').id);
    if (p.kind === 'session') {
      const eff = await effectiveOne(store, p.tenantId, course.id, p.personId);
      if (!eff.effective.includes('course.view')) throw new ForbiddenError('You need course.view in this course');
    }
    return c.json(course, 200);
  });
  return app;
}
