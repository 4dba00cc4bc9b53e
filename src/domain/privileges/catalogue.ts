import type { Transaction } from 'sequelize';
import { z } from 'zod';
import { exec } from '../../db/sql.js';
import { inTransaction, type ActorContext, type Store } from '../../db/store.js';
import { ConflictError, ValidationError } from '../../errors.js';
import { recordAudit } from '../audit.js';
import { changedOnCommit } from '../change-signal.js';
import { parseInput } from '../validate.js';

/** The tenant's privilege catalogue and the default privileges each LTI role brings. */

export const MANAGE = 'privileges.manage';
/** LTI roles we know besides the tenant's configured defaults (LIS v2 membership vocabulary). */
export const KNOWN_ROLES = [
  'Instructor',
  'TeachingAssistant',
  'Learner',
  'ContentDeveloper',
  'Administrator',
  'Mentor',
  'Member',
  'Manager',
  'Officer',
];
/** `http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant` → `TeachingAssistant`. */
export const roleName = (role: string) => role.replace(/^.*#/, '');

export async function catalogue(store: Store, tenantId: string, t?: Transaction) {
  return store.models.PrivilegeCatalogueEntry.findAll({
    attributes: ['key', 'description'],
    where: { tenantId },
    order: [['key', 'ASC']],
    transaction: t,
    raw: true,
  }) as Promise<Array<{ key: string; description: string }>>;
}

/** Throws 400 listing the valid privileges when any of `keys` is not in the tenant's catalogue. */
export async function assertKnownPrivileges(
  store: Store,
  tenantId: string,
  keys: string[],
  t?: Transaction,
): Promise<string[]> {
  const valid = (await catalogue(store, tenantId, t)).map((r) => r.key);
  const unknown = [...new Set(keys)].filter((k) => !valid.includes(k));
  if (unknown.length) {
    throw new ValidationError(
      `Unknown privilege${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; valid: ${valid.join(', ')}`,
      {
        details: { unknown, valid },
      },
    );
  }
  return valid;
}

export const catalogueEntry = z.object({
  key: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'key: dotted lower-case words such as "reports.view"'),
  description: z.string().max(500).default(''),
});

export async function addCatalogueEntry(store: Store, ctx: ActorContext, tenantId: string, input: unknown) {
  const entry = parseInput(catalogueEntry, input);
  return inTransaction(store, async (t) => {
    const { PrivilegeCatalogueEntry } = store.models;
    const existing = await PrivilegeCatalogueEntry.count({ where: { tenantId, key: entry.key }, transaction: t });
    if (existing) throw new ConflictError(`Privilege ${entry.key} already exists`);
    await PrivilegeCatalogueEntry.create(
      { tenantId, key: entry.key, description: entry.description },
      { transaction: t, returning: false },
    );
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'privilege.catalogue.add',
      targetType: 'privilege',
      targetId: entry.key,
      after: entry,
    });
    changedOnCommit(t, tenantId);
    return entry;
  });
}

export async function roleDefaults(store: Store, tenantId: string, t?: Transaction): Promise<Record<string, string[]>> {
  const rows = await store.models.RolePrivilegeDefault.findAll({
    attributes: ['role', 'privilege'],
    where: { tenantId },
    order: [
      ['role', 'ASC'],
      ['privilege', 'ASC'],
    ],
    transaction: t,
    raw: true,
  });
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.role] ??= []).push(r.privilege);
  return out;
}

export async function knownRoles(store: Store, tenantId: string, t?: Transaction): Promise<string[]> {
  return [...new Set([...KNOWN_ROLES, ...Object.keys(await roleDefaults(store, tenantId, t))])];
}

/** Role names or LTI role URIs; 400 listing the known ones otherwise. Returns short names. */
export async function normalizeRoles(
  store: Store,
  tenantId: string,
  roles: string[],
  t?: Transaction,
): Promise<string[]> {
  const known = await knownRoles(store, tenantId, t);
  const names = [...new Set(roles.map(roleName))];
  const unknown = names.filter((r) => !known.includes(r));
  if (unknown.length)
    throw new ValidationError(`Unknown role ${unknown.join(', ')}; known: ${known.join(', ')}`, {
      details: { unknown, known },
    });
  return names;
}

export const roleDefaultsInput = z.object({ privileges: z.array(z.string()).max(200) });

/** Replaces the default privileges of one role in the tenant. */
export async function setRoleDefaults(store: Store, ctx: ActorContext, tenantId: string, role: string, input: unknown) {
  const { privileges } = parseInput(roleDefaultsInput, input);
  if (!/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(role))
    throw new ValidationError('role: a short LTI role name such as Instructor');
  return inTransaction(store, async (t) => {
    await assertKnownPrivileges(store, tenantId, privileges, t);
    const before = (await roleDefaults(store, tenantId, t))[role] ?? [];
    await store.models.RolePrivilegeDefault.destroy({ where: { tenantId, role }, transaction: t });
    if (privileges.length) {
      // Named SQL: the role's rows in one set-based insert from unnest (docs/decisions/0004).
      await exec(
        store,
        'INSERT INTO role_privilege_defaults (tenant_id, role, privilege) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING',
        [tenantId, role, privileges],
        t,
      );
    }
    const after = [...new Set(privileges)].sort();
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'privilege.role_defaults.set',
      targetType: 'role',
      targetId: role,
      before,
      after,
    });
    changedOnCommit(t, tenantId);
    return { role, privileges: after };
  });
}
