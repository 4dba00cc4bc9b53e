import type { z } from '@hono/zod-openapi';
import type { Store } from '../db/store.js';
import { likeEscape } from '../domain/courses.js';
import { getPersonById, parsePersonRef, findByRefs, refKey } from '../domain/person-reference.js';
import { effectiveOne } from '../domain/privileges/index.js';
import { select } from '../db/sql.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
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
    const q = (query.q ?? '').trim().toLowerCase();
    const after = query.after || undefined;
    const limit = Math.min(Math.max(Number(query.limit ?? 25) || 25, 1), 200);
    const like = q ? `%${likeEscape(q)}%` : null;
    const rows = await select<Row>(
      store,
      `SELECT p.id, p.status, p.user_name, p.external_id, p.primary_email, p.display_name, p.given_name, p.family_name FROM people p
        WHERE p.tenant_id = $1 AND p.deleted_at IS NULL AND p.status <> 'merged'
          AND ($2::text IS NULL
               OR lower(coalesce(p.display_name, '')) LIKE $2
               OR lower(concat_ws(' ', p.given_name, p.family_name)) LIKE $2
               OR lower(concat_ws(' ', p.family_name, p.given_name)) LIKE $2
               OR p.primary_email LIKE $2 OR lower(p.user_name) LIKE $2 OR lower(p.external_id) LIKE $2
               OR EXISTS (SELECT 1 FROM person_emails e WHERE e.tenant_id = $1 AND e.person_id = p.id AND e.value_lower LIKE $2))
          AND ($3::uuid IS NULL OR p.id > $3::uuid)
        ORDER BY p.id LIMIT $4`,
      [p.tenantId, like, after ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return c.json({ items: page.map(view), next: rows.length > limit ? page[page.length - 1].id : null }, 200);
  });
  app.openapi(contract.getPerson, async (c) => {
    const p = principalOf(c);
    const refText = c.req.valid('param').ref;
    if (!(p.kind === 'session' && p.personId === refText)) await assertMayLookUp(p);
    const ref = parsePersonRef(refText);
    let id: string;
    if (ref.kind === 'id') id = (await getPersonById(store, p.tenantId, ref.id)).id;
    else {
      const found =
        (
          await findByRefs(
            store,
            p.tenantId,
            ref.kind === 'email' ? [ref.email] : [],
            ref.kind === 'key' ? [ref.key] : [],
          )
        ).get(refKey(ref)) ?? [];
      if (found.length === 0) throw new NotFoundError(`Nobody in this tenant matches ${refText}`);
      if (found.length > 1) throw new ConflictError(`${refText} matches ${found.length} people`, { candidates: found });
      id = found[0].id;
    }
    const [row] = await select<
      Row & { first_launch_at: Date | null; merged_into: string | null; source: string; active: boolean }
    >(
      store,
      'SELECT id, status, user_name, external_id, primary_email, display_name, given_name, family_name, first_launch_at, merged_into, source, active FROM people WHERE tenant_id = $1 AND id = $2',
      [p.tenantId, id],
    );
    const emails = await select<{ value: string; type: string | null; is_primary: boolean }>(
      store,
      'SELECT value, type, is_primary FROM person_emails WHERE tenant_id = $1 AND person_id = $2 ORDER BY position, value',
      [p.tenantId, id],
    );
    return c.json(
      {
        ...view(row),
        active: row.active,
        source: row.source,
        firstLaunchAt: row.first_launch_at ? new Date(row.first_launch_at).toISOString() : null,
        mergedInto: row.merged_into,
        emails: emails.map((e) => ({ value: e.value, type: e.type, primary: e.is_primary })),
      },
      200,
    );
  });
  return app;
}

interface Row {
  id: string;
  status: z.infer<typeof contract.PersonStatus>;
  user_name: string | null;
  external_id: string | null;
  primary_email: string | null;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
}
const view = (r: Row) => ({
  id: r.id,
  status: r.status,
  userName: r.user_name,
  externalId: r.external_id,
  email: r.primary_email,
  displayName: r.display_name ?? ([r.given_name, r.family_name].filter(Boolean).join(' ') || null),
});
