import { Op, type Transaction } from 'sequelize';
import { select } from '../db/sql.js';
import type { ActorContext, Store } from '../db/store.js';
import { NotFoundError, PreconditionFailedError } from '../errors.js';
import { recordAudit } from './audit.js';
import { changedOnCommit } from './change-signal.js';
import { queryDirectoryPage, type DirectoryPage, type DirectoryQuery } from './directory-page.js';
import { UUID } from '../ids.js';

/**
 * SCIM groups and their members (people or groups). Membership changes are applied as set
 * differences in one statement each, so a PATCH adding or removing thousands of members is two
 * queries, not thousands.
 */
export type MemberType = 'person' | 'group';
export interface MemberRef {
  type: MemberType;
  id: string;
}
export interface GroupRow {
  id: string;
  tenantId: string;
  displayName: string;
  externalId: string | null;
  scim: Record<string, unknown>;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}
export interface GroupInput {
  displayName: string;
  externalId: string | null;
  scim: Record<string, unknown>;
  /**
   * Members as sent; ids that are not a live person or group of the tenant are dropped. `scim`
   * holds sub-attributes no schema models, which round-trip.
   */
  members: MemberInput[];
}
export interface MemberInput {
  id: string;
  scim?: Record<string, unknown> | null;
}

export const GROUP_COLUMNS = `g.id, g.tenant_id AS "tenantId", g.display_name AS "displayName", g.external_id AS "externalId",
  g.scim, g.version, g.created_at AS "createdAt", g.updated_at AS "updatedAt"`;

/** A group as the directory (SCIM) shows it, with its members when asked. */
export interface DirectoryGroup extends GroupRow {
  members?: Array<{ value: string; type: MemberType; display: string | null; scim: Record<string, unknown> | null }>;
}

const MEMBERS_SQL = `(SELECT coalesce(json_agg(json_build_object('value', m.member_id, 'type', m.member_type,
    'display', coalesce(mp.display_name, mp.user_name, mg.display_name), 'scim', m.scim) ORDER BY m.created_at, m.member_id), '[]'::json)
  FROM group_members m
  LEFT JOIN people mp ON m.member_type = 'person' AND mp.id = m.member_id
  LEFT JOIN groups mg ON m.member_type = 'group' AND mg.id = m.member_id
  WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id) AS members`;
const groupSelect = (withMembers: boolean) => `${GROUP_COLUMNS}${withMembers ? `, ${MEMBERS_SQL}` : ''}`;
const VISIBLE = 'g.deleted_at IS NULL';

/**
 * A live group of the tenant as SCIM shows it; NotFoundError otherwise (also for ids that are no
 * uuid). Named SQL on purpose: the same select, members aggregated in one statement, serves the
 * filtered list (directory-page.ts), so a group reads the same whichever way it is fetched.
 */
export async function loadGroup(
  store: Store,
  tenantId: string,
  id: string,
  t?: Transaction,
  withMembers = true,
): Promise<DirectoryGroup> {
  if (!UUID.test(id)) throw new NotFoundError(`Group ${id} not found`);
  const rows = await select<DirectoryGroup>(
    store,
    `SELECT ${groupSelect(withMembers)} FROM groups g WHERE g.tenant_id = $1 AND g.id = $2 AND ${VISIBLE}`,
    [tenantId, id],
    t,
  );
  if (!rows[0]) throw new NotFoundError(`Group ${id} not found`);
  return rows[0];
}

export function listGroups(
  store: Store,
  tenantId: string,
  query: DirectoryQuery,
  withMembers = true,
): Promise<DirectoryPage<DirectoryGroup>> {
  return queryDirectoryPage<DirectoryGroup>(
    store,
    tenantId,
    { resource: 'group', from: 'groups g', visible: VISIBLE, select: groupSelect(withMembers), idColumn: 'g.id' },
    query,
  );
}

const groupRow = (g: GroupRow & { deletedAt?: unknown }): GroupRow => ({
  id: g.id,
  tenantId: g.tenantId,
  displayName: g.displayName,
  externalId: g.externalId ?? null,
  scim: g.scim,
  version: g.version,
  createdAt: g.createdAt,
  updatedAt: g.updatedAt,
});

const auditView = (g: GroupRow) => ({ id: g.id, displayName: g.displayName, externalId: g.externalId });

/** Resolves member ids to live people and groups of this tenant, in one query. */
export async function resolveMembers(
  store: Store,
  t: Transaction,
  tenantId: string,
  ids: string[],
): Promise<MemberRef[]> {
  const wanted = [...new Set(ids.filter((id) => UUID.test(id)).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return [];
  const { Person, Group } = store.models;
  const people = await Person.findAll({
    where: { tenantId, id: wanted, deletedAt: null, status: { [Op.notIn]: ['merged', 'invited'] } },
    attributes: ['id'],
    raw: true,
    transaction: t,
  });
  const groups = await Group.findAll({
    where: { tenantId, id: wanted, deletedAt: null },
    attributes: ['id'],
    raw: true,
    transaction: t,
  });
  return [
    ...people.map((p) => ({ type: 'person' as const, id: p.id })),
    ...groups.map((g) => ({ type: 'group' as const, id: g.id })),
  ];
}

const GROUP_ATTRIBUTES = [
  'id',
  'tenantId',
  'displayName',
  'externalId',
  'scim',
  'version',
  'createdAt',
  'updatedAt',
] as const;

export async function lockGroup(
  store: Store,
  t: Transaction,
  tenantId: string,
  id: string,
  ifMatch?: (version: number) => boolean,
): Promise<GroupRow> {
  if (!UUID.test(id)) throw new NotFoundError(`Group ${id} not found`);
  const group = (await store.models.Group.findOne({
    where: { tenantId, id, deletedAt: null },
    attributes: [...GROUP_ATTRIBUTES],
    lock: t.LOCK.UPDATE,
    raw: true,
    transaction: t,
  })) as GroupRow | null;
  if (!group) throw new NotFoundError(`Group ${id} not found`);
  if (ifMatch && !ifMatch(group.version))
    throw new PreconditionFailedError(`Group ${id} has changed (version ${group.version})`);
  return group;
}

export async function memberIdsOf(
  store: Store,
  t: Transaction | undefined,
  tenantId: string,
  groupId: string,
): Promise<string[]> {
  const rows = await store.models.GroupMember.findAll({
    where: { tenantId, groupId },
    attributes: ['memberId'],
    raw: true,
    transaction: t,
  });
  return rows.map((r) => r.memberId);
}

export async function createGroup(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  input: GroupInput,
): Promise<GroupRow> {
  const created = await store.models.Group.create(
    { tenantId, displayName: input.displayName, externalId: input.externalId, scim: input.scim },
    { transaction: t },
  );
  const group = groupRow(created.get({ plain: true }));
  changedOnCommit(t, tenantId);
  const added = await setMembers(store, t, tenantId, group.id, [], input.members);
  await recordAudit(store, t, ctx, {
    tenantId,
    action: 'group.create',
    targetType: 'group',
    targetId: group.id,
    after: { ...auditView(group), members: added.added },
  });
  return group;
}

/** Replaces the group's attributes and member set and bumps its version (callers skip no-op changes). */
export async function updateGroup(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  current: GroupRow,
  currentMemberIds: string[],
  input: GroupInput,
): Promise<GroupRow> {
  changedOnCommit(t, current.tenantId);
  const change = await setMembers(store, t, current.tenantId, current.id, currentMemberIds, input.members);
  const [, [updated]] = await store.models.Group.update(
    {
      displayName: input.displayName,
      externalId: input.externalId,
      scim: input.scim,
      version: store.sequelize.literal('version + 1'),
      // clock_timestamp, not now(): two writes in one transaction still get distinct lastModified
      updatedAt: store.sequelize.fn('clock_timestamp'),
    },
    { where: { tenantId: current.tenantId, id: current.id }, returning: true, transaction: t },
  );
  const group = groupRow(updated.get({ plain: true }));
  await recordAudit(store, t, ctx, {
    tenantId: current.tenantId,
    action: 'group.update',
    targetType: 'group',
    targetId: group.id,
    before: auditView(current),
    after: { ...auditView(group), membersAdded: change.added, membersRemoved: change.removed },
  });
  return group;
}

async function setMembers(
  store: Store,
  t: Transaction,
  tenantId: string,
  groupId: string,
  current: string[],
  wanted: MemberInput[],
) {
  const have = new Set(current.map((id) => id.toLowerCase()));
  const extras = new Map(wanted.map((m) => [m.id.toLowerCase(), m.scim && Object.keys(m.scim).length ? m.scim : null]));
  const want = new Set(extras.keys());
  const removed = [...have].filter((id) => !want.has(id));
  const toAdd = [...want].filter((id) => !have.has(id) && id !== groupId);
  const resolved = await resolveMembers(store, t, tenantId, toAdd);
  // One statement each way, whatever the number of members.
  if (removed.length)
    await store.models.GroupMember.destroy({ where: { tenantId, groupId, memberId: removed }, transaction: t });
  if (resolved.length)
    await store.models.GroupMember.bulkCreate(
      resolved.map((m) => ({ tenantId, groupId, memberType: m.type, memberId: m.id, scim: extras.get(m.id) ?? null })),
      { ignoreDuplicates: true, transaction: t },
    );
  return { added: resolved.map((m) => m.id), removed };
}

/** Soft delete: the group disappears from SCIM, its memberships (both directions) end, audit stays. */
export async function deleteGroup(store: Store, t: Transaction, ctx: ActorContext, current: GroupRow): Promise<void> {
  const tenantId = current.tenantId;
  changedOnCommit(t, tenantId);
  await store.models.Group.update(
    { deletedAt: store.sequelize.fn('clock_timestamp'), version: store.sequelize.literal('version + 1') },
    { where: { tenantId, id: current.id }, transaction: t },
  );
  await store.models.GroupMember.destroy({
    where: { tenantId, [Op.or]: [{ groupId: current.id }, { memberType: 'group', memberId: current.id }] },
    transaction: t,
  });
  await recordAudit(store, t, ctx, {
    tenantId,
    action: 'group.delete',
    targetType: 'group',
    targetId: current.id,
    before: auditView(current),
  });
}
