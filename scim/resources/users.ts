import { Hono, type Context } from 'hono';
import { inTransaction } from '../../src/db/store.js';
import { listDirectoryPeople, loadDirectoryPerson, type DirectoryPerson } from '../../src/domain/people-directory.js';
import {
  lockPerson,
  provisionNewPersonFast,
  provisionPerson,
  deprovisionPerson,
  updatePerson,
  type PersonInput,
  type ProvisionedEmail,
} from '../../src/domain/provisioning.js';
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

/** Attributes kept in their own columns/tables; everything else lives in people.scim. */
const COLUMN_ATTRS = new Set(['userName', 'externalId', 'displayName', 'active', 'emails', 'password', 'groups']);
const EMAIL_COLUMNS = new Set(['value', 'type', 'primary']);

/** A normalised SCIM User document → the domain's PersonInput (validating as it goes). */
export function toPersonInput(doc: Json): PersonInput {
  doc = stripNulls(doc);
  checkTypes('User', doc);
  const userName = typeof doc.userName === 'string' ? doc.userName.trim() : '';
  if (!userName) throw invalidValue('userName is required');
  const externalId = doc.externalId === undefined ? null : doc.externalId;
  if (externalId !== null && typeof externalId !== 'string') throw invalidValue('externalId must be a string');
  const active = doc.active === undefined ? true : doc.active;
  if (typeof active !== 'boolean') throw invalidValue('active must be a boolean');
  const name = (doc.name ?? {}) as Json;
  const emails: ProvisionedEmail[] = ((doc.emails as Json[] | undefined) ?? []).map((e, i) => {
    if (typeof e.value !== 'string' || !e.value.trim())
      throw invalidValue(`emails[${i}].value must be a non-empty string`);
    return { value: e.value.trim(), type: typeof e.type === 'string' ? e.type : null, primary: e.primary === true };
  });
  assertIndexable('userName', userName);
  assertIndexable('externalId', externalId);
  emails.forEach((e, i) => assertIndexable(`emails[${i}].value`, e.value));
  // RFC 7643 §2.4: at most one primary; keep the first a client marks.
  let seenPrimary = false;
  for (const e of emails) {
    if (!e.primary) continue;
    e.primary = !seenPrimary;
    seenPrimary = true;
  }
  const scim: Json = {};
  for (const [k, v] of Object.entries(doc)) if (!COLUMN_ATTRS.has(k)) scim[k] = v;
  // person_emails holds value, type and primary; any other sub-attribute the schema lets a client
  // write (display) rides in the document, by position, so it round-trips.
  const emailExtras = ((doc.emails as Json[] | undefined) ?? []).map((e) =>
    Object.fromEntries(Object.entries(e).filter(([k]) => !EMAIL_COLUMNS.has(k))),
  );
  if (emailExtras.some((x) => Object.keys(x).length)) scim.emails = emailExtras;
  return {
    userName,
    externalId,
    displayName: typeof doc.displayName === 'string' ? doc.displayName : null,
    givenName: typeof name.givenName === 'string' ? name.givenName : null,
    familyName: typeof name.familyName === 'string' ? name.familyName : null,
    active,
    emails,
    scim,
  };
}

export type UserRow = DirectoryPerson;

/** The stored person as a SCIM document without id/meta: what PATCH operates on. */
export function docOf(row: UserRow): Json {
  const name = { ...((row.scim.name as Json | undefined) ?? {}) };
  if (row.givenName !== null) name.givenName = row.givenName;
  else delete name.givenName;
  if (row.familyName !== null) name.familyName = row.familyName;
  else delete name.familyName;
  return stripNulls({
    externalId: row.externalId,
    userName: row.userName,
    ...(Object.keys(name).length ? { name } : {}),
    displayName: row.displayName,
    ...Object.fromEntries(Object.entries(row.scim).filter(([k]) => k !== 'name' && k !== 'emails')),
    active: row.active,
    emails: row.emails.length
      ? row.emails.map((e, i) => ({
          value: e.value,
          ...(e.type ? { type: e.type } : {}),
          primary: e.primary,
          ...((row.scim.emails as Json[] | undefined)?.[i] ?? {}),
        }))
      : undefined,
  });
}

export function renderUser(deps: ScimDeps, row: UserRow): Json {
  const doc = docOf(row);
  const location = resourceLocation(deps.config, 'User', row.id);
  return {
    schemas: [URN.user, ...(doc[URN.enterprise] ? [URN.enterprise] : [])],
    id: row.id,
    ...doc,
    ...(row.groups
      ? {
          groups: row.groups.map((g) => ({
            ...g,
            $ref: resourceLocation(deps.config, 'Group', g.value),
            type: 'direct',
          })),
        }
      : {}),
    meta: {
      resourceType: 'User',
      created: new Date(row.createdAt).toISOString(),
      lastModified: new Date(row.updatedAt).toISOString(),
      location,
      version: etagOf(row.version),
    },
  };
}

export function listUsers(deps: ScimDeps, tenantId: string, params: ListParams) {
  const withGroups = wants('groups', params.attributes, params.excludedAttributes);
  return listPage('User', params, (query) => listDirectoryPeople(deps.store, tenantId, query, withGroups));
}

export async function createUser(deps: ScimDeps, c: Context, body: Json): Promise<UserRow> {
  const input = toPersonInput(normalizeResource('User', body));
  const tenantId = c.get('auth').tenant.id;
  const fast = await provisionNewPersonFast(deps.store, actorOf(c), tenantId, input);
  if (fast) return { ...fast, emails: input.emails, groups: [] };
  return inTransaction(deps.store, async (t) => {
    const { person, adopted } = await provisionPerson(deps.store, t, actorOf(c), tenantId, input);
    // A new person has exactly what was sent and no groups: no need to read it back.
    if (!adopted) return { ...person, emails: input.emails, groups: [] };
    return loadDirectoryPerson(deps.store, tenantId, person.id, t);
  });
}

/** Full replace (PUT): attributes not sent are cleared; id, meta and groups are the server's. */
export async function replaceUser(
  deps: ScimDeps,
  c: Context,
  id: string,
  body: Json,
  ifMatch?: string,
): Promise<UserRow> {
  const input = toPersonInput(normalizeResource('User', body));
  const tenantId = c.get('auth').tenant.id;
  return inTransaction(deps.store, async (t) => {
    const current = await lockPerson(deps.store, t, tenantId, id, ifMatchOf(ifMatch));
    await updatePerson(deps.store, t, actorOf(c), current, input);
    return loadDirectoryPerson(deps.store, tenantId, id, t);
  });
}

export async function patchUser(
  deps: ScimDeps,
  c: Context,
  id: string,
  body: Json,
  ifMatch?: string,
): Promise<UserRow> {
  const ops = readPatchRequest(body);
  const tenantId = c.get('auth').tenant.id;
  return inTransaction(deps.store, async (t) => {
    const current = await lockPerson(deps.store, t, tenantId, id, ifMatchOf(ifMatch));
    const before = await loadDirectoryPerson(deps.store, tenantId, id, t, false);
    const beforeDoc = docOf(before);
    const input = toPersonInput(applyPatch('User', beforeDoc, ops));
    // A PATCH that changes nothing writes nothing: no version bump, no audit noise.
    if (JSON.stringify(toPersonInput(beforeDoc)) !== JSON.stringify(input))
      await updatePerson(deps.store, t, actorOf(c), current, input);
    return loadDirectoryPerson(deps.store, tenantId, id, t);
  });
}

export async function deleteUser(deps: ScimDeps, c: Context, id: string, ifMatch?: string): Promise<void> {
  const tenantId = c.get('auth').tenant.id;
  await inTransaction(deps.store, async (t) => {
    const current = await lockPerson(deps.store, t, tenantId, id, ifMatchOf(ifMatch));
    await deprovisionPerson(deps.store, t, actorOf(c), current);
  });
}

function singleResponse(deps: ScimDeps, c: Context, row: UserRow, status: number): Response {
  const q = c.req.query();
  const body = project(renderUser(deps, row), readListParams(q).attributes, readListParams(q).excludedAttributes);
  const headers: Record<string, string> = { ETag: etagOf(row.version) };
  if (status === 201) headers.Location = resourceLocation(deps.config, 'User', row.id);
  return scimJson(body, status, headers);
}

export function usersRoutes(deps: ScimDeps) {
  const app = new Hono();
  const list = async (c: Context, source: Record<string, unknown>) => {
    const params = readListParams(source);
    const page = await listUsers(deps, c.get('auth').tenant.id, params);
    return scimJson(
      page.response((row) => project(renderUser(deps, row), params.attributes, params.excludedAttributes)),
    );
  };
  app.get('/', (c) => list(c, c.req.query()));
  app.post('/.search', async (c) => list(c, await readJsonObject(c)));
  app.post('/', async (c) => singleResponse(deps, c, await createUser(deps, c, await readJsonObject(c)), 201));
  app.get('/:id', async (c) => {
    const row = await loadDirectoryPerson(
      deps.store,
      c.get('auth').tenant.id,
      c.req.param('id'),
      undefined,
      wants('groups', readListParams(c.req.query()).attributes, readListParams(c.req.query()).excludedAttributes),
    );
    if (notModified(c, row.version)) return new Response(null, { status: 304, headers: { ETag: etagOf(row.version) } });
    return singleResponse(deps, c, row, 200);
  });
  app.put('/:id', async (c) =>
    singleResponse(
      deps,
      c,
      await replaceUser(deps, c, c.req.param('id'), await readJsonObject(c), c.req.header('if-match')),
      200,
    ),
  );
  app.patch('/:id', async (c) => {
    const row = await patchUser(deps, c, c.req.param('id'), await readJsonObject(c), c.req.header('if-match'));
    // RFC 7644 §3.5.2: 204 is allowed; clients asking for attributes get the resource.
    if (c.req.query('attributes') || c.req.query('excludedAttributes')) return singleResponse(deps, c, row, 200);
    return new Response(null, { status: 204, headers: { ETag: etagOf(row.version) } });
  });
  app.delete('/:id', async (c) => {
    await deleteUser(deps, c, c.req.param('id'), c.req.header('if-match'));
    return new Response(null, { status: 204 });
  });
  return app;
}
