import type { Store } from '../db/store.js';
import { select } from '../db/sql.js';
import { NotFoundError } from '../errors.js';
import { likeEscape } from './courses.js';
import { findOnePerson } from './person-reference.js';
import type { PersonStatus } from './people-models.js';

/** A person as the admin pages list them: names and the keys a course admin would type. */
export interface PersonSummary {
  id: string;
  status: PersonStatus;
  userName: string | null;
  externalId: string | null;
  email: string | null;
  displayName: string | null;
}

export interface PersonDetail extends PersonSummary {
  active: boolean;
  source: string;
  firstLaunchAt: string | null;
  mergedInto: string | null;
  emails: { value: string; type: string | null; primary: boolean }[];
}

const summary = (p: {
  id: string;
  status: PersonStatus;
  userName: string | null;
  externalId: string | null;
  primaryEmail: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
}): PersonSummary => ({
  id: p.id,
  status: p.status,
  userName: p.userName,
  externalId: p.externalId,
  email: p.primaryEmail,
  displayName: p.displayName ?? ([p.givenName, p.familyName].filter(Boolean).join(' ') || null),
});

/**
 * "Can't find the person?": a case-insensitive substring search over names, every email, userName
 * and externalId, in SQL (a named query: LIKE across the person and their emails in one statement),
 * keyset-paged by id.
 */
export async function searchPeople(
  store: Store,
  tenantId: string,
  q: { text?: string; after?: string; limit: number },
): Promise<{ items: PersonSummary[]; next: string | null }> {
  const text = (q.text ?? '').trim().toLowerCase();
  const like = text ? `%${likeEscape(text)}%` : null;
  const rows = await select<Parameters<typeof summary>[0]>(
    store,
    `SELECT p.id, p.status, p.user_name AS "userName", p.external_id AS "externalId", p.primary_email AS "primaryEmail",
            p.display_name AS "displayName", p.given_name AS "givenName", p.family_name AS "familyName"
       FROM people p
      WHERE p.tenant_id = $1 AND p.deleted_at IS NULL AND p.status <> 'merged'
        AND ($2::text IS NULL
             OR lower(coalesce(p.display_name, '')) LIKE $2
             OR lower(concat_ws(' ', p.given_name, p.family_name)) LIKE $2
             OR lower(concat_ws(' ', p.family_name, p.given_name)) LIKE $2
             OR p.primary_email LIKE $2 OR lower(p.user_name) LIKE $2 OR lower(p.external_id) LIKE $2
             OR EXISTS (SELECT 1 FROM person_emails e WHERE e.tenant_id = $1 AND e.person_id = p.id AND e.value_lower LIKE $2))
        AND ($3::uuid IS NULL OR p.id > $3::uuid)
      ORDER BY p.id LIMIT $4`,
    [tenantId, like, q.after ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  return { items: page.map(summary), next: rows.length > q.limit ? page[page.length - 1].id : null };
}

/** One person by id, email:… or key:…, with every email (through the Person model and its emails). */
export async function personDetail(store: Store, tenantId: string, refText: string): Promise<PersonDetail> {
  const { id } = await findOnePerson(store, tenantId, refText);
  const { Person, PersonEmail } = store.models;
  const person = await Person.findOne({
    where: { tenantId, id },
    include: [{ model: PersonEmail, as: 'emails' }],
    order: [
      [{ model: PersonEmail, as: 'emails' }, 'position', 'ASC'],
      [{ model: PersonEmail, as: 'emails' }, 'value', 'ASC'],
    ],
  });
  if (!person) throw new NotFoundError(`Nobody in this tenant matches ${refText}`);
  return {
    ...summary(person),
    active: person.active,
    source: person.source,
    firstLaunchAt: person.firstLaunchAt ? person.firstLaunchAt.toISOString() : null,
    mergedInto: person.mergedInto,
    emails: (person.emails ?? []).map((e) => ({ value: e.value, type: e.type, primary: e.isPrimary })),
  };
}
