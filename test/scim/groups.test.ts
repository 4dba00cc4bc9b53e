import { QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URN } from '../../scim/schemas.js';
import type { TestServer } from '../support/server.js';
import { scimClient, startScim, type ScimClient } from './client.js';

let server: TestServer;
beforeAll(async () => {
  ({ server } = await startScim());
});
afterAll(async () => server?.close());

const user = async (c: ScimClient, userName: string) => {
  const r = await c.req('POST', '/Users', { schemas: [URN.user], userName, displayName: userName.toUpperCase() });
  expect(r.status).toBe(201);
  return r.body.id as string;
};
const group = async (c: ScimClient, displayName: string, members: string[] = []) => {
  const r = await c.req('POST', '/Groups', {
    schemas: [URN.group],
    displayName,
    members: members.map((value) => ({ value })),
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; members?: Array<{ value: string; display: string; type: string }> };
};
const memberIds = async (c: ScimClient, id: string) =>
  ((await c.req('GET', `/Groups/${id}`)).body.members ?? []).map((m: { value: string }) => m.value).sort();

describe('SCIM Groups', () => {
  it('creates a group with people and groups as members, shown with display and type', async () => {
    const c = await scimClient(server);
    const u = await user(c, 'teacher1');
    const inner = await group(c, 'Inner');
    const g = await group(c, 'Teachers', [u, inner.id]);
    expect(g.members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ value: u, display: 'TEACHER1', type: 'User' }),
        expect.objectContaining({ value: inner.id, display: 'Inner', type: 'Group' }),
      ]),
    );
    expect((await c.req('GET', `/Users/${u}`)).body.groups).toEqual([
      expect.objectContaining({ value: g.id, display: 'Teachers' }),
    ]);
  });

  it('filters by displayName and members.value; excludedAttributes=members leaves members out (Entra)', async () => {
    const c = await scimClient(server);
    const u = await user(c, 'member1');
    const g = await group(c, 'Science', [u]);
    await group(c, 'Art');
    const byName = await c.req(
      'GET',
      `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "science"')}`,
    );
    expect(byName.body.Resources.map((r: { id: string }) => r.id)).toEqual([g.id]);
    expect(byName.body.Resources[0].members).toBeUndefined();
    const byMember = await c.req('GET', `/Groups?filter=${encodeURIComponent(`members[value eq "${u}"]`)}`);
    expect(byMember.body.Resources.map((r: { id: string }) => r.id)).toEqual([g.id]);
  });

  it('adds and removes thousands of members in one PATCH, as two statements', async () => {
    const c = await scimClient(server);
    const [{ ids }] = await server.store.sequelize.query<{ ids: string[] }>(
      `WITH p AS (INSERT INTO people (tenant_id, status, source, user_name)
         SELECT $1, 'provisioned', 'scim', 'bulk' || g FROM generate_series(1, 3000) g RETURNING id)
       SELECT array_agg(id::text) AS ids FROM p`,
      { bind: [c.tenantId], type: QueryTypes.SELECT },
    );
    const g = await group(c, 'Everyone');
    const started = performance.now();
    const add = await c.req('PATCH', `/Groups/${g.id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'Add', path: 'members', value: ids.map((value) => ({ $ref: null, value })) }],
    });
    expect(add.status).toBe(204);
    expect((await memberIds(c, g.id)).length).toBe(3000);
    const remove = await c.req('PATCH', `/Groups/${g.id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'Remove', path: 'members', value: ids.slice(0, 2000).map((value) => ({ value })) }],
    });
    expect(remove.status).toBe(204);
    expect(await memberIds(c, g.id)).toEqual(ids.slice(2000).sort());
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('removes one member by filter and all members by path; replaces displayName', async () => {
    const c = await scimClient(server);
    const a = await user(c, 'a1');
    const b = await user(c, 'b1');
    const g = await group(c, 'G', [a, b]);
    await c.req('PATCH', `/Groups/${g.id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'remove', path: `members[value eq "${a}"]` }],
    });
    expect(await memberIds(c, g.id)).toEqual([b]);
    await c.req('PATCH', `/Groups/${g.id}`, {
      schemas: [URN.patchOp],
      Operations: [
        { op: 'replace', path: 'displayName', value: 'Renamed' },
        { op: 'remove', path: 'members' },
      ],
    });
    const got = await c.req('GET', `/Groups/${g.id}`);
    expect(got.body.displayName).toBe('Renamed');
    expect(got.body.members).toBeUndefined();
    expect(got.body.meta.version).toBe('W/"3"');
  });

  it('ignores members that are not a live resource of this tenant', async () => {
    const a = await scimClient(server);
    const b = await scimClient(server);
    const foreign = await user(b, 'foreigner');
    const g = await group(a, 'Mine', [foreign, 'not-a-uuid']);
    expect(g.members ?? []).toEqual([]);
  });

  it('PUT replaces attributes and the member set; DELETE is soft and ends memberships', async () => {
    const c = await scimClient(server);
    const a = await user(c, 'p1');
    const b = await user(c, 'p2');
    const g = await group(c, 'Old', [a]);
    const put = await c.req('PUT', `/Groups/${g.id}`, {
      schemas: [URN.group],
      displayName: 'New',
      members: [{ value: b }],
    });
    expect(put.status).toBe(200);
    expect(put.body.members.map((m: { value: string }) => m.value)).toEqual([b]);
    expect((await c.req('DELETE', `/Groups/${g.id}`)).status).toBe(204);
    expect((await c.req('GET', `/Groups/${g.id}`)).status).toBe(404);
    expect((await c.req('GET', `/Users/${b}`)).body.groups).toEqual([]);
    const [row] = await server.store.sequelize.query<{ deleted: boolean }>(
      'SELECT deleted_at IS NOT NULL AS deleted FROM groups WHERE id = $1',
      {
        bind: [g.id],
        type: QueryTypes.SELECT,
      },
    );
    expect(row.deleted).toBe(true);
  });

  it("deleting a user removes them from groups and bumps the groups' versions", async () => {
    const c = await scimClient(server);
    const u = await user(c, 'leaving');
    const g = await group(c, 'Club', [u]);
    await c.req('DELETE', `/Users/${u}`);
    const got = await c.req('GET', `/Groups/${g.id}`);
    expect(got.body.members).toBeUndefined();
    expect(got.body.meta.version).toBe('W/"2"');
  });

  it('answers 400 for a group without displayName', async () => {
    const c = await scimClient(server);
    expect((await c.req('POST', '/Groups', { schemas: [URN.group] })).body).toMatchObject({
      status: '400',
      scimType: 'invalidValue',
    });
  });
});
