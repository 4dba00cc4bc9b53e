import { QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URN } from '../../scim/schemas.js';
import { fastCreateStats } from '../../src/domain/provisioning.js';
import type { TestServer } from '../support/server.js';
import { scimClient, startScim, type ScimClient } from './client.js';

let server: TestServer;
beforeAll(async () => {
  ({ server } = await startScim());
});
afterAll(async () => server?.close());

const newUser = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [URN.user],
  userName,
  name: { givenName: 'Given', familyName: 'Family' },
  emails: [{ value: userName.includes('@') ? userName : `${userName}@school.org`, type: 'work', primary: true }],
  active: true,
  ...extra,
});
const create = async (c: ScimClient, userName: string, extra: Record<string, unknown> = {}) => {
  const r = await c.req('POST', '/Users', newUser(userName, extra));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; meta: { version: string } } & Record<string, unknown>;
};
const ids = (r: { body: { Resources: Array<{ id: string }> } }) => r.body.Resources.map((x) => x.id).sort();
const sql = <T extends object>(q: string, bind: unknown[]) =>
  server.store.sequelize.query<T>(q, { bind, type: QueryTypes.SELECT });

describe('SCIM Users: create and read', () => {
  it('creates a user (201, Location, weak ETag, application/scim+json) and reads it back', async () => {
    const c = await scimClient(server);
    const r = await c.req(
      'POST',
      '/Users',
      newUser('alice@school.org', { nickName: 'Al', [URN.enterprise]: { department: 'Math' } }),
    );
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(r.headers.get('etag')).toBe('W/"1"');
    expect(r.headers.get('location')).toMatch(new RegExp(`/scim/v2/Users/${r.body.id}$`));
    expect(r.body.schemas).toEqual([URN.user, URN.enterprise]);
    const got = await c.req('GET', `/Users/${r.body.id}`);
    expect(got.body).toMatchObject({
      userName: 'alice@school.org',
      nickName: 'Al',
      [URN.enterprise]: { department: 'Math' },
      active: true,
      meta: { resourceType: 'User', version: 'W/"1"' },
    });
  });

  it('round-trips attributes no schema models, and never returns or stores a password in clear', async () => {
    const c = await scimClient(server);
    const u = await create(c, 'bob@school.org', {
      password: 'S3cret!pw',
      schoolHouse: { name: 'Gryffindor' },
      phoneNumbers: [{ value: '+1 555', type: 'work' }],
    });
    const got = await c.req('GET', `/Users/${u.id}`);
    expect(got.body.schoolHouse).toEqual({ name: 'Gryffindor' });
    expect(got.body.phoneNumbers).toEqual([{ value: '+1 555', type: 'work' }]);
    expect(JSON.stringify(got.body)).not.toContain('S3cret');
    const [row] = await sql<{ doc: string }>('SELECT row_to_json(p)::text AS doc FROM people p WHERE id = $1', [u.id]);
    expect(row.doc).not.toContain('S3cret');
  });

  it('answers 409 uniqueness for a second create of the same userName, case-insensitively', async () => {
    const c = await scimClient(server);
    await create(c, 'carol@school.org');
    const r = await c.req('POST', '/Users', newUser('CAROL@School.org'));
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ schemas: [URN.error], status: '409', scimType: 'uniqueness' });
  });

  it('yields exactly one row for concurrent creates of the same person', async () => {
    const c = await scimClient(server);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => c.req('POST', '/Users', newUser('dave@school.org'))),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    const [{ n }] = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM people WHERE tenant_id = $1 AND lower(user_name) = 'dave@school.org'`,
      [c.tenantId],
    );
    expect(n).toBe(1);
  });

  it('creates many different people concurrently, each with its emails and its own audit event', async () => {
    const c = await scimClient(server);
    const names = Array.from({ length: 24 }, (_, i) => `pupil${i}@school.org`);
    const writtenBefore = fastCreateStats.written;
    const results = await Promise.all(
      names.map((n) => c.req('POST', '/Users', newUser(n), { 'X-Request-Id': `req-${n.split('@')[0]}` })),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    const rows = await sql<{ user_name: string; emails: number; audits: number; request_id: string }>(
      `SELECT p.user_name, (SELECT count(*)::int FROM person_emails e WHERE e.person_id = p.id) AS emails,
              (SELECT count(*)::int FROM audit_events a WHERE a.target_id = p.id::text AND a.action = 'person.create') AS audits,
              (SELECT a.request_id FROM audit_events a WHERE a.target_id = p.id::text) AS request_id
       FROM people p WHERE p.tenant_id = $1 ORDER BY p.user_name`,
      [c.tenantId],
    );
    expect(rows.length).toBe(24);
    // They went through the one-statement batch path, not the transactional fallback.
    expect(fastCreateStats.written - writtenBefore).toBe(24);
    expect(fastCreateStats.failedBatches).toBe(0);
    for (const r of rows)
      expect(r).toEqual({
        user_name: r.user_name,
        emails: 1,
        audits: 1,
        request_id: `req-${r.user_name.split('@')[0]}`,
      });
  });

  it("enforces the tenant's seat limit on SCIM creates", async () => {
    const c = await scimClient(server);
    await sql('UPDATE tenants SET seat_limit = 1 WHERE id = $1 RETURNING id', [c.tenantId]);
    await create(c, 'seat1@school.org');
    const r = await c.req('POST', '/Users', newUser('seat2@school.org'));
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ schemas: [URN.error], status: '403' });
  });

  it("adopts an admin's invited placeholder with the same userName or externalId, keeping its id", async () => {
    const c = await scimClient(server);
    const [byName] = await sql<{ id: string }>(
      `INSERT INTO people (tenant_id, status, source, user_name) VALUES ($1, 'invited', 'admin', 'Erin@school.org') RETURNING id`,
      [c.tenantId],
    );
    const [byKey] = await sql<{ id: string }>(
      `INSERT INTO people (tenant_id, status, source, external_id) VALUES ($1, 'invited', 'admin', 'SIS-42') RETURNING id`,
      [c.tenantId],
    );
    const a = await create(c, 'erin@school.org');
    const b = await create(c, 'frank@school.org', { externalId: 'SIS-42' });
    expect([a.id, b.id]).toEqual([byName.id, byKey.id]);
    const [row] = await sql<{ status: string }>('SELECT status FROM people WHERE id = $1', [a.id]);
    expect(row.status).toBe('provisioned');
    const audit = await sql<{ action: string }>(`SELECT action FROM audit_events WHERE target_id = $1 ORDER BY id`, [
      a.id,
    ]);
    expect(audit.map((x) => x.action)).toContain('person.adopt');
  });

  it('answers 400 for a body without userName, malformed JSON, or a wrongly typed attribute', async () => {
    const c = await scimClient(server);
    expect((await c.req('POST', '/Users', { name: { givenName: 'x' } })).body).toMatchObject({
      status: '400',
      scimType: 'invalidValue',
    });
    expect((await c.req('POST', '/Users', '{"userName": "x",')).body).toMatchObject({
      status: '400',
      scimType: 'invalidSyntax',
    });
    expect((await c.req('POST', '/Users', newUser('g@school.org', { active: 'maybe' }))).body).toMatchObject({
      status: '400',
      scimType: 'invalidValue',
    });
    expect((await c.req('POST', '/Users', newUser('g@school.org', { displayName: 42 }))).body).toMatchObject({
      status: '400',
      scimType: 'invalidValue',
    });
    expect((await c.req('POST', '/Users', newUser('g@school.org', { emails: [{ type: 'work' }] }))).body).toMatchObject(
      { status: '400', scimType: 'invalidValue' },
    );
  });

  it('answers errors in RFC 7644 §3.12 form: 401 without a token, 404 for unknown ids, 405, 501 for /Me', async () => {
    const c = await scimClient(server);
    const r401 = await fetch(`${c.base}/Users`);
    expect(r401.status).toBe(401);
    expect(r401.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(await r401.json()).toMatchObject({ schemas: [URN.error], status: '401' });
    expect((await c.req('GET', '/Users/not-a-uuid')).body).toMatchObject({ status: '404' });
    expect((await c.req('GET', '/Users/2819c223-7f76-453a-919d-413861904646')).body).toMatchObject({ status: '404' });
    const r405 = await c.req('DELETE', '/ServiceProviderConfig');
    expect([r405.status, r405.body.status]).toEqual([405, '405']);
    expect((await c.req('GET', '/Me')).body).toMatchObject({ status: '501' });
    expect((await c.req('GET', '/Nowhere')).body).toMatchObject({ status: '404' });
  });

  it("never shows another tenant's people", async () => {
    const a = await scimClient(server);
    const b = await scimClient(server);
    const u = await create(a, 'private@school.org');
    expect((await b.req('GET', `/Users/${u.id}`)).status).toBe(404);
    expect((await b.req('GET', '/Users?filter=userName eq "private@school.org"')).body.totalResults).toBe(0);
    expect((await b.req('DELETE', `/Users/${u.id}`)).status).toBe(404);
  });
});

describe('SCIM Users: filters, sorting, paging, projection', () => {
  let c: ScimClient;
  const people: Record<string, string> = {};
  beforeAll(async () => {
    c = await scimClient(server);
    const specs: Array<[string, Record<string, unknown>]> = [
      [
        'ann',
        {
          emails: [
            { value: 'ann@school.org', type: 'work' },
            { value: 'ann@home.example', type: 'home' },
          ],
          title: 'Teacher',
        },
      ],
      [
        'ben',
        {
          emails: [
            { value: 'ben@home.example', type: 'work' },
            { value: 'ben@school.org', type: 'home' },
          ],
          externalId: 'jyoung',
        },
      ],
      ['cat', { active: false, [URN.enterprise]: { department: 'Math' } }],
      ['dan', {}],
      ['eve', { displayName: 'Eve Z' }],
    ];
    for (const [name, extra] of specs) people[name] = (await create(c, name, extra)).id;
  });
  const filter = (f: string, more = '') => c.req('GET', `/Users?filter=${encodeURIComponent(f)}${more}`);

  it('matches emails[type eq "work" and value co "@school.org"] only when ONE email satisfies both', async () => {
    // ben has a work email at home.example and a home email at school.org: no single email matches.
    const sameRow = [people.ann, people.cat, people.dan, people.eve].sort();
    expect(ids(await filter('emails[type eq "work" and value co "@school.org"]'))).toEqual(sameRow);
    expect(ids(await filter('emails[type eq "work"].value co "@school.org"'))).toEqual(sameRow);
    // Independent conditions on the multi-valued attribute match ben too.
    expect(ids(await filter('emails.type eq "work" and emails.value co "@school.org"'))).toEqual(
      Object.values(people).sort(),
    );
  });

  it('filters by unquoted values, extension URNs, booleans and presence', async () => {
    expect(ids(await filter('externalId eq jyoung'))).toEqual([people.ben]);
    expect(ids(await filter(`${URN.enterprise}:department eq "math"`))).toEqual([people.cat]);
    expect(ids(await filter('active eq false'))).toEqual([people.cat]);
    expect(ids(await filter('title pr'))).toEqual([people.ann]);
    expect(ids(await filter('not (active eq true) or userName eq "DAN"'))).toEqual([people.cat, people.dan].sort());
    expect((await filter('meta.created gt "2000-01-01T00:00:00Z"')).body.totalResults).toBe(5);
  });

  it('answers 400 invalidFilter for an unknown attribute', async () => {
    expect((await filter('shoeSize gt 40')).body).toMatchObject({ status: '400', scimType: 'invalidFilter' });
  });

  it('sorts by sortBy/sortOrder and pages with startIndex/count, totalResults and itemsPerPage right', async () => {
    const asc = await c.req('GET', '/Users?sortBy=userName&attributes=userName');
    expect(asc.body.Resources.map((r: { userName: string }) => r.userName)).toEqual([
      'ann',
      'ben',
      'cat',
      'dan',
      'eve',
    ]);
    const desc = await c.req(
      'GET',
      '/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2&attributes=userName',
    );
    expect(desc.body).toMatchObject({ totalResults: 5, itemsPerPage: 2, startIndex: 2 });
    expect(desc.body.Resources.map((r: { userName: string }) => r.userName)).toEqual(['dan', 'cat']);
    expect((await c.req('GET', '/Users?count=0')).body).toMatchObject({
      totalResults: 5,
      itemsPerPage: 0,
      Resources: [],
    });
    expect((await c.req('GET', '/Users?count=100000')).body.itemsPerPage).toBe(5); // capped, not refused
  });

  it('pages by cursor (RFC 9865) through every user exactly once', async () => {
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      const r = await c.req('GET', `/Users?count=2&cursor=${cursor}&attributes=userName`);
      expect(r.status).toBe(200);
      expect(r.body.totalResults).toBe(5);
      seen.push(...r.body.Resources.map((x: { id: string }) => x.id));
      if (!r.body.nextCursor) break;
      cursor = r.body.nextCursor;
    }
    expect(seen.sort()).toEqual(Object.values(people).sort());
    expect((await c.req('GET', '/Users?cursor=garbage')).body).toMatchObject({
      status: '400',
      scimType: 'invalidCursor',
    });
  });

  it('returns only requested attributes (plus id and schemas), or all but excluded ones', async () => {
    const r = await c.req('GET', `/Users/${people.ann}?attributes=userName,name.givenName`);
    expect(Object.keys(r.body).sort()).toEqual(['id', 'name', 'schemas', 'userName']);
    expect(r.body.name).toEqual({ givenName: 'Given' });
    const x = await c.req('GET', `/Users/${people.ann}?excludedAttributes=emails,groups`);
    expect(x.body.emails).toBeUndefined();
    expect(x.body.userName).toBe('ann');
  });

  it('searches with POST /.search, per resource type and at the root', async () => {
    const r = await c.req('POST', '/Users/.search', {
      schemas: [URN.searchRequest],
      filter: 'userName sw "a"',
      attributes: ['userName'],
    });
    expect(ids(r)).toEqual([people.ann]);
    const root = await c.req('POST', '/.search', { schemas: [URN.searchRequest], filter: 'userName eq "eve"' });
    expect(ids(root)).toEqual([people.eve]);
  });
});

describe('SCIM Users: replace, patch, versions, deprovisioning', () => {
  it('replaces with PUT: attributes not sent are cleared', async () => {
    const c = await scimClient(server);
    const u = await create(c, 'put@school.org', { title: 'Teacher', nickName: 'P' });
    const r = await c.req('PUT', `/Users/${u.id}`, {
      schemas: [URN.user],
      userName: 'put@school.org',
      name: { givenName: 'New' },
      password: 'x',
    });
    expect(r.status).toBe(200);
    expect(r.body.title).toBeUndefined();
    expect(r.body.emails).toBeUndefined();
    expect(r.body.name).toEqual({ givenName: 'New' });
    expect(r.body.meta.version).toBe('W/"2"');
  });

  it('PATCHes atomically: a failing operation leaves the user unchanged', async () => {
    const c = await scimClient(server);
    const u = await create(c, 'atomic@school.org');
    const r = await c.req('PATCH', `/Users/${u.id}`, {
      schemas: [URN.patchOp],
      Operations: [
        { op: 'replace', path: 'displayName', value: 'Changed' },
        { op: 'replace', path: 'bogus', value: 1 },
      ],
    });
    expect(r.body).toMatchObject({ status: '400', scimType: 'invalidPath' });
    const got = await c.req('GET', `/Users/${u.id}`);
    expect(got.body.displayName).toBeUndefined();
    expect(got.body.meta.version).toBe('W/"1"');
  });

  it('answers 412 on a stale If-Match and 304 on a current If-None-Match', async () => {
    const c = await scimClient(server);
    const u = await create(c, 'etag@school.org');
    const ok = await c.req(
      'PATCH',
      `/Users/${u.id}`,
      { schemas: [URN.patchOp], Operations: [{ op: 'replace', path: 'title', value: 'A' }] },
      { 'If-Match': 'W/"1"' },
    );
    expect(ok.status).toBe(204);
    expect(ok.headers.get('etag')).toBe('W/"2"');
    const stale = await c.req(
      'PATCH',
      `/Users/${u.id}`,
      { schemas: [URN.patchOp], Operations: [{ op: 'replace', path: 'title', value: 'B' }] },
      { 'If-Match': 'W/"1"' },
    );
    expect(stale.body).toMatchObject({ status: '412' });
    expect((await c.req('GET', `/Users/${u.id}`, undefined, { 'If-None-Match': 'W/"2"' })).status).toBe(304);
    expect((await c.req('GET', `/Users/${u.id}`, undefined, { 'If-None-Match': 'W/"1"' })).status).toBe(200);
    expect((await c.req('DELETE', `/Users/${u.id}`, undefined, { 'If-Match': 'W/"1"' })).status).toBe(412);
  });

  it('suspends on active=false: still returned by GET and filters, status suspended', async () => {
    const c = await scimClient(server);
    const u = await create(c, 'leaver@school.org');
    await c.req('PATCH', `/Users/${u.id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect((await c.req('GET', `/Users/${u.id}`)).body.active).toBe(false);
    expect(ids(await c.req('GET', '/Users?filter=active eq false'))).toEqual([u.id]);
    const [row] = await sql<{ status: string }>('SELECT status FROM people WHERE id = $1', [u.id]);
    expect(row.status).toBe('suspended');
    await c.req('PATCH', `/Users/${u.id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'replace', value: { active: true } }],
    });
    const [back] = await sql<{ status: string }>('SELECT status FROM people WHERE id = $1', [u.id]);
    expect(back.status).toBe('provisioned');
  });

  it('DELETE soft-deletes: 204, then 404; history and audit remain; the userName can be reused', async () => {
    const c = await scimClient(server);
    const u = await create(c, 'gone@school.org');
    expect((await c.req('DELETE', `/Users/${u.id}`)).status).toBe(204);
    expect((await c.req('GET', `/Users/${u.id}`)).status).toBe(404);
    expect((await c.req('DELETE', `/Users/${u.id}`)).status).toBe(404);
    const [row] = await sql<{ status: string; deleted: boolean }>(
      'SELECT status, deleted_at IS NOT NULL AS deleted FROM people WHERE id = $1',
      [u.id],
    );
    expect(row).toEqual({ status: 'deprovisioned', deleted: true });
    const again = await create(c, 'gone@school.org');
    expect(again.id).not.toBe(u.id);
  });

  it("DELETE revokes the person's grants (audited) but keeps them on active=false", async () => {
    const c = await scimClient(server);
    const u = await create(c, 'granted@school.org');
    const [course] = await sql<{ id: string }>(
      `INSERT INTO courses (tenant_id, title) VALUES ($1, 'Biology') RETURNING id`,
      [c.tenantId],
    );
    await sql(
      `INSERT INTO privilege_catalogue (tenant_id, key) VALUES ($1, 'grades.edit') ON CONFLICT DO NOTHING RETURNING key`,
      [c.tenantId],
    );
    await sql(
      `INSERT INTO privilege_grants (tenant_id, course_id, person_id, privilege, effect, granted_by) VALUES ($1, $2, $3, 'grades.edit', 'allow', 'test') RETURNING id`,
      [c.tenantId, course.id, u.id],
    );
    const grants = async () =>
      (await sql<{ n: number }>('SELECT count(*)::int AS n FROM privilege_grants WHERE person_id = $1', [u.id]))[0].n;
    await c.req('PATCH', `/Users/${u.id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    expect(await grants()).toBe(1);
    await c.req('DELETE', `/Users/${u.id}`);
    expect(await grants()).toBe(0);
    const audit = await sql<{ action: string }>(
      `SELECT action FROM audit_events WHERE tenant_id = $1 AND action = 'privileges.revoke_all'`,
      [c.tenantId],
    );
    expect(audit.length).toBe(1);
  });

  it('audits every write with the token as actor', async () => {
    const c = await scimClient(server);
    const u = await create(c, 'audited@school.org');
    await c.req('PATCH', `/Users/${u.id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'replace', path: 'title', value: 'T' }],
    });
    await c.req('DELETE', `/Users/${u.id}`);
    const rows = await sql<{ action: string; actor: string }>(
      'SELECT action, actor FROM audit_events WHERE target_id = $1 ORDER BY id',
      [u.id],
    );
    expect(rows.map((r) => r.action)).toEqual(['person.create', 'person.update', 'person.deprovision']);
    const [token] = await sql<{ id: string }>(`SELECT id FROM api_tokens WHERE tenant_id = $1 AND kind = 'scim'`, [
      c.tenantId,
    ]);
    expect(new Set(rows.map((r) => r.actor))).toEqual(new Set([`scim-token:${token.id}`]));
  });
});
