import type { Store } from '../db/store.js';
import { personDetail, searchPeople } from '../domain/people-search.js';
import { effectiveOne } from '../domain/privileges/index.js';
import { ForbiddenError } from '../errors.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/people.js';
import { principalOf } from './api-auth.js';

/** People search for the admin page (?q= over names, email, userName, externalId — in SQL) and one person with status. */
export function peopleRoutes(store: Store) {
  const app = contractRouter();
  // A course admin may look people up (to grant them something); other sessions may not browse the directory.
  async function assertMayLookUp(p: ReturnType<typeof principalOf>) {
    if (p.kind !== 'session') return;
    const held = p.courseId ? (await effectiveOne(store, p.tenantId, p.courseId, p.personId)).effective : [];
    if (!held.includes('privileges.manage') && !held.includes('members.manage'))
      throw new ForbiddenError('Looking people up needs privileges.manage or members.manage in your course');
  }
  app.openapi(contract.searchPeople, async (c) => {
    const p = principalOf(c);
    await assertMayLookUp(p);
    const query = c.req.valid('query');
    const limit = Math.min(Math.max(Number(query.limit ?? 25) || 25, 1), 200);
    return c.json(
      await searchPeople(store, p.tenantId, { text: query.q, after: query.after || undefined, limit }),
      200,
    );
  });
  app.openapi(contract.getPerson, async (c) => {
    const p = principalOf(c);
    const refText = c.req.valid('param').ref;
    if (!(p.kind === 'session' && p.personId === refText)) await assertMayLookUp(p);
    return c.json(await personDetail(store, p.tenantId, refText), 200);
  });
  return app;
}
