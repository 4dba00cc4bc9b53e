import type { Context } from 'hono';
import type { Store } from '../db/store.js';
import { getCourse } from '../domain/courses.js';
import { effectiveOne } from '../domain/privileges/index.js';
import type { RosterSyncRunner } from '../domain/roster-sync-runner.js';
import { getRosterSync, listRosterSyncs, setRosterSchedule } from '../domain/roster-sync.js';
import { ForbiddenError } from '../errors.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/roster.js';
import { actorOf, principalOf, requireAdmin } from './api-auth.js';

const MANAGE = 'privileges.manage';

/** LMS roster sync on /api/v1: a tenant admin, or a course staff session holding privileges.manage there. */
export function rosterRoutes(store: Store, runner: RosterSyncRunner) {
  const app = contractRouter();

  const courseFor = async (c: Context, ref: string) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, ref);
    if (p.kind === 'session') {
      const eff = await effectiveOne(store, p.tenantId, course.id, p.personId);
      if (!eff.effective.includes(MANAGE)) throw new ForbiddenError(`You need ${MANAGE} in this course`);
    }
    return { tenantId: p.tenantId, courseId: course.id };
  };

  app.openapi(contract.startSync, async (c) => {
    const { tenantId, courseId } = await courseFor(c, c.req.valid('param').id);
    const { id } = await runner.enqueue(tenantId, courseId, 'api', actorOf(c).actor);
    const sync = await getRosterSync(store, tenantId, courseId, id);
    c.header('Location', `/api/v1/courses/${courseId}/roster/sync/${id}`);
    return c.json(sync, 202);
  });
  app.openapi(contract.getSync, async (c) => {
    const { id, syncId } = c.req.valid('param');
    const { tenantId, courseId } = await courseFor(c, id);
    return c.json(await getRosterSync(store, tenantId, courseId, syncId), 200);
  });
  app.openapi(contract.listSyncs, async (c) => {
    const { tenantId, courseId } = await courseFor(c, c.req.valid('param').id);
    return c.json({ items: await listRosterSyncs(store, tenantId, courseId) }, 200);
  });
  app.openapi({ ...contract.putSchedule, middleware: [requireAdmin] }, async (c) =>
    c.json(await setRosterSchedule(store, actorOf(c), principalOf(c).tenantId, c.req.valid('json').everyMinutes), 200),
  );
  return app;
}
