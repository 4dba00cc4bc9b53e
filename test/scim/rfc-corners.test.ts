import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { startScim, type ScimClient } from './client.js';

/** Requests real SCIM clients send that RFC 7644 did not foresee, each as the client sends it. */
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let server: TestServer;
let client: ScimClient;
beforeAll(async () => ({ server, client } = await startScim()));
afterAll(async () => server?.close());

describe('Entra ID filters with unqualified enterprise attributes', () => {
  it('answers `id eq "X" and manager eq "Y"` as if the extension URN had been given', async () => {
    const boss = await client.req('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'boss@entra.example',
    });
    const made = await client.req('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENT],
      userName: 'report@entra.example',
      displayName: 'Report',
      [ENT]: { employeeNumber: 'E-17', manager: { value: boss.body.id } },
    });
    expect(made.status).toBe(201);
    const q = (filter: string) => client.req('GET', `/Users?filter=${encodeURIComponent(filter)}`);

    const exact = await q(`id eq "${made.body.id}" and manager eq "${boss.body.id}"`);
    expect(exact.status).toBe(200);
    expect(exact.body.totalResults).toBe(1);
    expect((await q(`id eq "${made.body.id}" and manager eq "someone-else"`)).body.totalResults).toBe(0);
    expect((await q('employeeNumber eq "E-17"')).body.Resources.map((u: { id: string }) => u.id)).toEqual([
      made.body.id,
    ]);
    // the qualified form still works, and a core attribute keeps its core meaning
    expect((await q(`${ENT}:manager.value eq "${boss.body.id}"`)).body.totalResults).toBe(1);
    expect((await q('displayName eq "Report"')).body.totalResults).toBe(1);
    // a name neither schema has is still invalidFilter
    const bad = await q('shoeSize eq "42"');
    expect([bad.status, bad.body.scimType]).toEqual([400, 'invalidFilter']);
  });
});

type SchemaAttr = {
  name: string;
  type: string;
  multiValued: boolean;
  mutability: string;
  subAttributes?: SchemaAttr[];
  canonicalValues?: string[];
};

/** JSON with object keys sorted: stored documents do not keep key order (jsonb). */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

/** A value of the attribute's declared type that a strict server would accept and store. */
function sample(a: SchemaAttr, tag: string): unknown {
  if (a.type === 'complex') {
    const o: Record<string, unknown> = {};
    for (const s of a.subAttributes ?? [])
      if (s.mutability === 'readWrite' || s.mutability === 'immutable') o[s.name] = sample(s, `${tag}-${s.name}`);
    return a.multiValued ? [o] : o;
  }
  const one = (() => {
    if (a.type === 'boolean') return true;
    if (a.type === 'reference') return `https://example.edu/${tag}`;
    if (a.type === 'binary') return Buffer.from(tag).toString('base64');
    if (a.type === 'dateTime') return '2026-01-02T03:04:05Z';
    if (a.type === 'integer' || a.type === 'decimal') return 7;
    if (a.name === 'value' && tag.startsWith('emails')) return `${tag}@example.edu`;
    return a.canonicalValues?.[0] ?? tag;
  })();
  return a.multiValued ? [one] : one;
}

describe('everything the schema advertises as writable round-trips', () => {
  it('stores and returns every readWrite attribute and sub-attribute of User (emails[].display included)', async () => {
    const schemas = (await client.req('GET', '/Schemas')).body.Resources as Array<{
      id: string;
      attributes: SchemaAttr[];
    }>;
    const core = schemas.find((s) => s.id === 'urn:ietf:params:scim:schemas:core:2.0:User')!;
    const body: Record<string, unknown> = { schemas: [core.id] };
    for (const a of core.attributes) {
      if (a.mutability !== 'readWrite' && a.mutability !== 'immutable') continue;
      body[a.name] = a.name === 'userName' ? 'every.attribute@example.edu' : sample(a, a.name);
    }
    // one primary at most (RFC 7643 §2.4), which the server enforces; the rest round-trip as sent
    for (const v of Object.values(body))
      if (Array.isArray(v))
        for (const x of v) if (x && typeof x === 'object') (x as { primary?: boolean }).primary = true;
    const created = await client.req('POST', '/Users', body);
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    const read = (await client.req('GET', `/Users/${created.body.id}`)).body;
    const lost: string[] = [];
    for (const [k, v] of Object.entries(body)) {
      if (k === 'schemas' || k === 'password') continue; // password is writeOnly-like in practice: never returned
      if (canonical(read[k]) !== canonical(v)) lost.push(`${k}: sent ${canonical(v)} got ${canonical(read[k])}`);
    }
    expect(lost).toEqual([]);

    // PATCH of a sub-attribute the columns do not hold
    const patched = await client.req('PATCH', `/Users/${created.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'emails[type eq "work"].display', value: 'Office mail' }],
    });
    expect(patched.status).toBeLessThan(300);
    const again = (await client.req('GET', `/Users/${created.body.id}`)).body;
    expect(again.emails[0].display).toBe('Office mail');
  });
});

describe('PATCH corners', () => {
  const patch = (id: string, Operations: unknown[]) =>
    client.req('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations });
  const newUser = async (userName: string) =>
    (
      await client.req('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName,
        displayName: 'Shown Name',
        title: 'Teacher',
      })
    ).body.id as string;

  it('takes the extension URN itself as path: add merges, replace replaces, remove drops it', async () => {
    const id = await newUser('ext-path@example.edu');
    expect(
      (await patch(id, [{ op: 'add', path: ENT, value: { department: 'Science', costCenter: 'C1' } }])).status,
    ).toBeLessThan(300);
    expect((await client.req('GET', `/Users/${id}`)).body[ENT]).toEqual({ department: 'Science', costCenter: 'C1' });
    expect((await patch(id, [{ op: 'add', path: ENT, value: { division: 'Upper' } }])).status).toBeLessThan(300);
    expect((await client.req('GET', `/Users/${id}`)).body[ENT]).toEqual({
      department: 'Science',
      costCenter: 'C1',
      division: 'Upper',
    });
    expect((await patch(id, [{ op: 'replace', path: ENT, value: { employeeNumber: 'E-9' } }])).status).toBeLessThan(
      300,
    );
    expect((await client.req('GET', `/Users/${id}`)).body[ENT]).toEqual({ employeeNumber: 'E-9' });
    expect((await patch(id, [{ op: 'remove', path: ENT }])).status).toBeLessThan(300);
    const after = (await client.req('GET', `/Users/${id}`)).body;
    expect(after[ENT]).toBeUndefined();
    expect(after.schemas).not.toContain(ENT);
    const bad = await patch(id, [{ op: 'add', path: ENT, value: 'not an object' }]);
    expect([bad.status, bad.body.scimType]).toEqual([400, 'invalidValue']);
  });

  it('remove unassigns a single-valued attribute, and refuses what a person cannot be without', async () => {
    const id = await newUser('remove-me@example.edu');
    expect(
      (
        await patch(id, [
          { op: 'remove', path: 'displayName' },
          { op: 'remove', path: 'title' },
        ])
      ).status,
    ).toBeLessThan(300);
    const read = (await client.req('GET', `/Users/${id}`)).body;
    expect(read.displayName).toBeUndefined();
    expect(read.title).toBeUndefined();
    for (const path of ['userName', 'active']) {
      const r = await patch(id, [{ op: 'remove', path }]);
      expect([r.status, r.body.scimType], path).toEqual([400, 'mutability']);
    }
    expect((await client.req('GET', `/Users/${id}`)).body).toMatchObject({
      userName: 'remove-me@example.edu',
      active: true,
    });
  });
});

describe('Bulk with circular bulkId references (RFC 7644 §3.7.1)', () => {
  const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
  const bulk = (Operations: unknown[]) =>
    client.req('POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations });
  const idOf = (location: string) => location.slice(location.lastIndexOf('/') + 1);

  it("creates both groups of the RFC's example and then makes each a member of the other", async () => {
    // The request exactly as RFC 7644 §3.7.1 prints it.
    const r = await bulk([
      {
        method: 'POST',
        path: '/Groups',
        bulkId: 'qwerty',
        data: {
          schemas: [GROUP],
          displayName: 'Group A',
          members: [{ type: 'Group', value: 'bulkId:ytrewq' }],
        },
      },
      {
        method: 'POST',
        path: '/Groups',
        bulkId: 'ytrewq',
        data: {
          schemas: [GROUP],
          displayName: 'Group B',
          members: [{ type: 'Group', value: 'bulkId:qwerty' }],
        },
      },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201']);
    const [a, b] = r.body.Operations.map((o: { location: string }) => idOf(o.location));
    const groupA = (await client.req('GET', `/Groups/${a}`)).body;
    const groupB = (await client.req('GET', `/Groups/${b}`)).body;
    expect(groupA.members.map((m: { value: string }) => m.value)).toEqual([b]);
    expect(groupB.members.map((m: { value: string }) => m.value)).toEqual([a]);
    // Each result reports the version after its references were set, as a later GET shows it.
    expect(r.body.Operations.map((o: { version: string }) => o.version)).toEqual([
      groupA.meta.version,
      groupB.meta.version,
    ]);
  });

  it('keeps the values that resolve at once and adds the circular ones, for users too (manager)', async () => {
    const ENT_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    const r = await bulk([
      {
        method: 'POST',
        path: '/Users',
        bulkId: 'boss',
        data: {
          userName: 'cycle-boss@example.edu',
          [ENT_USER]: { department: 'Office', manager: { value: 'bulkId:aide' } },
        },
      },
      {
        method: 'POST',
        path: '/Users',
        bulkId: 'aide',
        data: { userName: 'cycle-aide@example.edu', [ENT_USER]: { manager: { value: 'bulkId:boss' } } },
      },
      {
        method: 'POST',
        path: '/Groups',
        bulkId: 'team',
        data: { displayName: 'Cycle team', members: [{ value: 'bulkId:boss' }, { value: 'bulkId:aide' }] },
      },
    ]);
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '201']);
    const [boss, aide] = r.body.Operations.map((o: { location: string }) => idOf(o.location));
    const bossRead = (await client.req('GET', `/Users/${boss}`)).body;
    const aideRead = (await client.req('GET', `/Users/${aide}`)).body;
    expect(bossRead[ENT_USER]).toMatchObject({ department: 'Office', manager: { value: aide } });
    expect(aideRead[ENT_USER]).toMatchObject({ manager: { value: boss } });
  });

  it('answers 409 for the member of a cycle whose partner could not be created, and 400 where nothing can resolve', async () => {
    const r = await bulk([
      {
        method: 'POST',
        path: '/Groups',
        bulkId: 'left',
        data: { schemas: [GROUP], displayName: 'Left of a broken cycle', members: [{ value: 'bulkId:right' }] },
      },
      {
        method: 'POST',
        path: '/Groups',
        bulkId: 'right',
        // A group needs a displayName: this one fails, so 'left' can never get its member.
        data: { schemas: [GROUP], members: [{ value: 'bulkId:left' }] },
      },
      {
        method: 'POST',
        path: '/Groups',
        bulkId: 'orphan',
        data: { schemas: [GROUP], displayName: 'Orphan', members: [{ value: 'bulkId:nobody' }] },
      },
    ]);
    const byId = Object.fromEntries(r.body.Operations.map((o: { bulkId: string }) => [o.bulkId, o]));
    expect(byId.right.status).toBe('400');
    expect(byId.left).toMatchObject({ status: '409', response: { status: '409' } });
    expect(byId.left.location).toMatch(/\/Groups\//);
    expect(byId.orphan).toMatchObject({ status: '400', response: { scimType: 'invalidValue' } });
  });
});
