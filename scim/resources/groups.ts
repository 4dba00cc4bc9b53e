import { Hono, type Context } from 'hono';
import { inTransaction } from '../../src/db/store.js';
import {
  createGroup,
  deleteGroup,
  listGroups as listDirectoryGroups,
  loadGroup,
  lockGroup,
  memberIdsOf,
  updateGroup,
  type DirectoryGroup,
  type GroupInput,
} from '../../src/domain/groups.js';
import { ScimError } from '../errors.js';
import {
  actorOf,
  assertIndexable,
  etagOf,
  ifMatchOf,
  notModified,
  project,
  readJsonObject,
  readListParams,
  resourceLocation,
  scimJson,
  stripNulls,
  wants,
  type Json,
  type ListParams,
  type ScimDeps,
} from '../common.js';
import { listPage } from '../list.js';
import { applyPatch, readPatchRequest } from '../patch.js';
import { checkTypes, normalizeResource, URN } from '../schemas.js';

const invalidValue = (m: string) => new ScimError(400, 'invalidValue', m);
/** Member sub-attributes the server owns; anything else a client sends round-trips. */
const MEMBER_OWN = new Set(['value', 'type', '$ref', 'display']);

export type GroupListRow = DirectoryGroup;

export function toGroupInput(doc: Json): GroupInput {
  doc = stripNulls(doc);
  checkTypes('Group', doc);
  const displayName = typeof doc.displayName === 'string' ? doc.displayName.trim() : '';
  if (!displayName) throw invalidValue('displayName is required');
  const externalId = doc.externalId === undefined ? null : doc.externalId;
  if (externalId !== null && typeof externalId !== 'string') throw invalidValue('externalId must be a string');
  assertIndexable('displayName', displayName);
  assertIndexable('externalId', externalId);
  const members = ((doc.members as Json[] | undefined) ?? []).map((m, i) => {
    if (typeof m.value !== 'string' || !m.value) throw invalidValue(`members[${i}].value must be a string`);
    const extra = Object.fromEntries(Object.entries(m).filter(([k]) => !MEMBER_OWN.has(k)));
    return { id: m.value, scim: Object.keys(extra).length ? extra : null };
  });
  const scim: Json = {};
  for (const [k, v] of Object.entries(doc)) if (!['displayName', 'externalId', 'members'].includes(k)) scim[k] = v;
  return { displayName, externalId, scim, members };
}

const memberType = (t: 'person' | 'group') => (t === 'person' ? 'User' : 'Group');

export function docOf(row: GroupListRow): Json {
  return stripNulls({
    ...row.scim,
    displayName: row.displayName,
    externalId: row.externalId,
    members: row.members?.map((m) => ({ ...(m.scim ?? {}), value: m.value, type: memberType(m.type) })),
  });
}

export function renderGroup(deps: ScimDeps, row: GroupListRow): Json {
  return stripNulls({
    schemas: [URN.group],
    id: row.id,
    ...row.scim,
    externalId: row.externalId,
    displayName: row.displayName,
    // An empty member list is unassigned (RFC 7643 §2.5), like a user without emails.
    members: row.members?.length
      ? row.members.map((m) => ({
          ...(m.scim ?? {}),
          value: m.value,
          display: m.display,
          type: memberType(m.type),
          $ref: resourceLocation(deps.config, memberType(m.type), m.value),
        }))
      : undefined,
    meta: {
      resourceType: 'Group',
      created: new Date(row.createdAt).toISOString(),
      lastModified: new Date(row.updatedAt).toISOString(),
      location: resourceLocation(deps.config, 'Group', row.id),
      version: etagOf(row.version),
    },
  });
}

export function listGroups(deps: ScimDeps, tenantId: string, params: ListParams) {
  const withMembers = wants('members', params.attributes, params.excludedAttributes);
  return listPage('Group', params, (query) => listDirectoryGroups(deps.store, tenantId, query, withMembers));
}

export async function createGroupFrom(deps: ScimDeps, c: Context, body: Json): Promise<GroupListRow> {
  const input = toGroupInput(normalizeResource('Group', body));
  const tenantId = c.get('auth').tenant.id;
  return inTransaction(deps.store, async (t) => {
    const g = await createGroup(deps.store, t, actorOf(c), tenantId, input);
    return loadGroup(deps.store, tenantId, g.id, t);
  });
}

export async function replaceGroup(
  deps: ScimDeps,
  c: Context,
  id: string,
  body: Json,
  ifMatch?: string,
): Promise<GroupListRow> {
  const input = toGroupInput(normalizeResource('Group', body));
  const tenantId = c.get('auth').tenant.id;
  return inTransaction(deps.store, async (t) => {
    const current = await lockGroup(deps.store, t, tenantId, id, ifMatchOf(ifMatch));
    await updateGroup(deps.store, t, actorOf(c), current, await memberIdsOf(deps.store, t, tenantId, id), input);
    return loadGroup(deps.store, tenantId, id, t);
  });
}

export async function patchGroup(
  deps: ScimDeps,
  c: Context,
  id: string,
  body: Json,
  ifMatch?: string,
  withResult = true,
): Promise<GroupListRow | null> {
  const ops = readPatchRequest(body);
  const tenantId = c.get('auth').tenant.id;
  return inTransaction(deps.store, async (t) => {
    const current = await lockGroup(deps.store, t, tenantId, id, ifMatchOf(ifMatch));
    const before = await loadGroup(deps.store, tenantId, id, t);
    const beforeDoc = docOf(before);
    const input = toGroupInput(applyPatch('Group', beforeDoc, ops));
    const unchanged = JSON.stringify(toGroupInput(beforeDoc)) === JSON.stringify(input);
    if (!unchanged)
      await updateGroup(
        deps.store,
        t,
        actorOf(c),
        current,
        (before.members ?? []).map((m) => m.value),
        input,
      );
    return withResult
      ? loadGroup(deps.store, tenantId, id, t)
      : { ...current, version: unchanged ? current.version : current.version + 1 };
  });
}

export async function deleteGroupById(deps: ScimDeps, c: Context, id: string, ifMatch?: string): Promise<void> {
  const tenantId = c.get('auth').tenant.id;
  await inTransaction(deps.store, async (t) => {
    const current = await lockGroup(deps.store, t, tenantId, id, ifMatchOf(ifMatch));
    await deleteGroup(deps.store, t, actorOf(c), current);
  });
}

function singleResponse(deps: ScimDeps, c: Context, row: GroupListRow, status: number): Response {
  const params = readListParams(c.req.query());
  const headers: Record<string, string> = { ETag: etagOf(row.version) };
  if (status === 201) headers.Location = resourceLocation(deps.config, 'Group', row.id);
  return scimJson(project(renderGroup(deps, row), params.attributes, params.excludedAttributes), status, headers);
}

export function groupsRoutes(deps: ScimDeps) {
  const app = new Hono();
  const list = async (c: Context, source: Record<string, unknown>) => {
    const params = readListParams(source);
    const page = await listGroups(deps, c.get('auth').tenant.id, params);
    return scimJson(
      page.response((row) => project(renderGroup(deps, row), params.attributes, params.excludedAttributes)),
    );
  };
  app.get('/', (c) => list(c, c.req.query()));
  app.post('/.search', async (c) => list(c, await readJsonObject(c)));
  app.post('/', async (c) => singleResponse(deps, c, await createGroupFrom(deps, c, await readJsonObject(c)), 201));
  app.get('/:id', async (c) => {
    const params = readListParams(c.req.query());
    const row = await loadGroup(
      deps.store,
      c.get('auth').tenant.id,
      c.req.param('id'),
      undefined,
      wants('members', params.attributes, params.excludedAttributes),
    );
    if (notModified(c, row.version)) return new Response(null, { status: 304, headers: { ETag: etagOf(row.version) } });
    return singleResponse(deps, c, row, 200);
  });
  app.put('/:id', async (c) =>
    singleResponse(
      deps,
      c,
      await replaceGroup(deps, c, c.req.param('id'), await readJsonObject(c), c.req.header('if-match')),
      200,
    ),
  );
  app.patch('/:id', async (c) => {
    const wantBody = Boolean(c.req.query('attributes') || c.req.query('excludedAttributes'));
    const row = await patchGroup(
      deps,
      c,
      c.req.param('id'),
      await readJsonObject(c),
      c.req.header('if-match'),
      wantBody,
    );
    if (wantBody && row) return singleResponse(deps, c, row, 200);
    return new Response(null, { status: 204, headers: { ETag: etagOf(row!.version) } });
  });
  app.delete('/:id', async (c) => {
    await deleteGroupById(deps, c, c.req.param('id'), c.req.header('if-match'));
    return new Response(null, { status: 204 });
  });
  return app;
}
