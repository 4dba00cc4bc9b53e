import type { Store } from '../db/store.js';
import { courseAccess, courseHistory, inviteCoursePerson } from '../domain/course-page.js';
import { getCourse } from '../domain/courses.js';
import type { InviteSettings } from '../domain/invitations.js';
import type { Outbox } from '../domain/outbox.js';
import { catalogue } from '../domain/privileges/index.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/course-page.js';
import { actorOf, principalOf } from './api-auth.js';

/** The course admin page's reads and its invitation button (src/web/client/course-admin.ts). */
export function coursePageRoutes(deps: { store: Store; outbox: Outbox; invite: InviteSettings }) {
  const { store, outbox, invite } = deps;
  const app = contractRouter();
  app.openapi(contract.courseAccess, async (c) => {
    const p = principalOf(c);
    const { id } = c.req.valid('param');
    if (p.kind === 'admin') {
      const course = await getCourse(store, p.tenantId, id);
      const all = (await catalogue(store, p.tenantId)).map((e) => e.key);
      return c.json(
        { course, level: 'manage' as const, missing: [], privileges: all, you: 'School administrator', managers: [] },
        200,
      );
    }
    return c.json(await courseAccess(store, p.tenantId, id, p.personId), 200);
  });
  app.openapi(contract.courseHistory, async (c) => {
    const q = c.req.valid('query');
    const r = await courseHistory(store, principalOf(c), c.req.valid('param').id, {
      before: q.before ? Number(q.before) : undefined,
      limit: q.limit ? Number(q.limit) : undefined,
    });
    return c.json(r, 200);
  });
  app.openapi(contract.invitePerson, async (c) => {
    const { id, personRef } = c.req.valid('param');
    const r = await inviteCoursePerson(store, principalOf(c), actorOf(c), id, personRef, invite);
    outbox.kick();
    return c.json(r, 202);
  });
  return app;
}
