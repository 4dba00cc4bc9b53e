import type { Transaction } from 'sequelize';
import type { PersonAttrs } from '../db/models.js';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';
import { NotFoundError } from '../errors.js';
import { UUID } from '../ids.js';
import { queryDirectoryPage, type DirectoryPage, type DirectoryQuery } from './directory-page.js';
import { PERSON_COLUMNS, SCIM_VISIBLE, type ProvisionedEmail } from './provisioning.js';

/**
 * People as the directory (SCIM) shows them: live, with their emails in order and, when asked, the
 * groups they are a direct member of. One query per person or per page, aggregated in SQL.
 */
export interface DirectoryPerson extends PersonAttrs {
  emails: ProvisionedEmail[];
  groups?: Array<{ value: string; display: string }>;
}

const EMAILS_SQL = `(SELECT coalesce(json_agg(json_build_object('value', e.value, 'type', e.type, 'primary', e.is_primary) ORDER BY e.position), '[]'::json)
  FROM person_emails e WHERE e.tenant_id = p.tenant_id AND e.person_id = p.id) AS emails`;
const GROUPS_SQL = `(SELECT coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) ORDER BY g.id), '[]'::json)
  FROM group_members gm JOIN groups g ON g.id = gm.group_id AND g.deleted_at IS NULL
  WHERE gm.tenant_id = p.tenant_id AND gm.member_type = 'person' AND gm.member_id = p.id) AS groups`;

const personSelect = (withGroups: boolean) => `${PERSON_COLUMNS}, ${EMAILS_SQL}${withGroups ? `, ${GROUPS_SQL}` : ''}`;

/** A directory-visible person of the tenant; NotFoundError otherwise (also for ids that are no uuid). */
export async function loadDirectoryPerson(
  store: Store,
  tenantId: string,
  id: string,
  t?: Transaction,
  withGroups = true,
): Promise<DirectoryPerson> {
  if (!UUID.test(id)) throw new NotFoundError(`User ${id} not found`);
  const rows = await select<DirectoryPerson>(
    store,
    `SELECT ${personSelect(withGroups)} FROM people p WHERE p.tenant_id = $1 AND p.id = $2 AND ${SCIM_VISIBLE}`,
    [tenantId, id],
    t,
  );
  if (!rows[0]) throw new NotFoundError(`User ${id} not found`);
  return rows[0];
}

export function listDirectoryPeople(
  store: Store,
  tenantId: string,
  query: DirectoryQuery,
  withGroups = true,
): Promise<DirectoryPage<DirectoryPerson>> {
  return queryDirectoryPage<DirectoryPerson>(
    store,
    tenantId,
    {
      resource: 'person',
      from: 'people p',
      visible: SCIM_VISIBLE,
      select: personSelect(withGroups),
      idColumn: 'p.id',
    },
    query,
  );
}
