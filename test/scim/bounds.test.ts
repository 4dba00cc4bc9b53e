import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URN } from '../../scim/schemas.js';
import { seedTenant, type TestServer } from '../support/server.js';
import { startScim, type ScimClient } from './client.js';

/** Work per request is bounded (issue #11 §1): filter complexity, statement timeout, body and value sizes. */
let server: TestServer;
let c: ScimClient;
beforeAll(async () => {
  ({ server, client: c } = await startScim());
  for (const n of [1, 2, 3])
    await c.req('POST', '/Users', { userName: `bound${n}`, emails: [{ value: `b${n}@school.org`, type: 'work' }] });
});
afterAll(async () => server?.close());

const clauses = (n: number) => Array.from({ length: n }, (_, i) => `emails[value co "x${i}abcdefghij"]`).join(' and ');

describe('filter complexity', () => {
  it('answers the 200-clause filter quickly with invalidFilter naming the limit', async () => {
    const filter = clauses(200);
    expect(filter.length).toBeGreaterThan(5000);
    const t0 = performance.now();
    const res = await c.req('GET', `/Users?filter=${encodeURIComponent(filter)}`);
    const ms = performance.now() - t0;
    console.log(`200-clause filter: ${res.status} in ${ms.toFixed(0)} ms`);
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidFilter');
    expect(res.body.detail).toMatch(/50/);
    expect(ms).toBeLessThan(1000);
  });
});

describe('filter complexity everywhere a filter is read', () => {
  it('allows a filter at the limit and refuses one over it', async () => {
    expect((await c.req('GET', `/Users?filter=${encodeURIComponent(clauses(25))}`)).status).toBe(200);
    const over = await c.req('GET', `/Users?filter=${encodeURIComponent(clauses(26))}`);
    expect(over.status).toBe(400); // 26 value paths + 26 comparisons = 52 > 50
    expect(over.body.detail).toContain('at most 50');
  });
  it('applies to POST /.search at the root and per resource type', async () => {
    for (const path of ['/.search', '/Users/.search', '/Groups/.search']) {
      const res = await c.req('POST', path, { schemas: [URN.searchRequest], filter: clauses(200) });
      expect(res.status, path).toBe(400);
      expect(res.body.scimType).toBe('invalidFilter');
    }
  });
  it('applies to PATCH path filters', async () => {
    const id = (await c.req('GET', '/Users?filter=userName eq "bound1"')).body.Resources[0].id;
    const f = Array.from({ length: 60 }, (_, i) => `value eq "x${i}"`).join(' or ');
    const res = await c.req('PATCH', `/Users/${id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'remove', path: `emails[${f}]` }],
    });
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidFilter');
    expect(res.body.detail).toContain('60 comparisons');
  });
});

describe('body and value sizes', () => {
  it('caps a /.search body at 64 KiB with 413', async () => {
    const res = await c.req('POST', '/Users/.search', {
      schemas: [URN.searchRequest],
      filter: 'userName eq "a"',
      attributes: ['x'.repeat(70 * 1024)],
    });
    expect(res.status).toBe(413);
    expect(res.body.schemas).toEqual([URN.error]);
  });
  it('refuses an oversized displayName with invalidValue naming the attribute, on POST, PUT and PATCH', async () => {
    const post = await c.req('POST', '/Users', { userName: 'huge', displayName: 'x'.repeat(1025) });
    expect(post.status).toBe(400);
    expect(post.body.scimType).toBe('invalidValue');
    expect(post.body.detail).toContain('"displayName"');
    const id = (await c.req('GET', '/Users?filter=userName eq "bound2"')).body.Resources[0].id;
    const put = await c.req('PUT', `/Users/${id}`, { userName: 'bound2', name: { givenName: 'y'.repeat(2000) } });
    expect(put.status).toBe(400);
    expect(put.body.detail).toContain('"name.givenName"');
    const patch = await c.req('PATCH', `/Users/${id}`, {
      schemas: [URN.patchOp],
      Operations: [{ op: 'replace', path: 'displayName', value: 'z'.repeat(1025) }],
    });
    expect(patch.status).toBe(400);
    expect(patch.body.scimType).toBe('invalidValue');
    expect((await c.req('GET', `/Users/${id}`)).body.displayName).toBeUndefined();
  });
  it('refuses a resource over 64 KiB made of small values', async () => {
    const emails = Array.from({ length: 2000 }, (_, i) => ({ value: `person${i}@school.org`, type: 'work' }));
    const res = await c.req('POST', '/Users', { userName: 'many', emails });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/Resource is \d+ bytes, at most 65536/);
  });
});

describe('Bulk', () => {
  it('fails only the operation with a 3 MB displayName; the others proceed', async () => {
    const res = await c.req('POST', '/Bulk', {
      schemas: [URN.bulkRequest],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: { userName: 'bulk-ok-1' } },
        { method: 'POST', path: '/Users', bulkId: 'b', data: { userName: 'bulk-huge', displayName: 'x'.repeat(3e6) } },
        { method: 'POST', path: '/Users', bulkId: 'c', data: { userName: 'bulk-ok-2' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '400', '201']);
    expect(res.body.Operations[1].response.scimType).toBe('invalidValue');
    expect(res.body.Operations[1].response.detail).toContain('"displayName"');
    expect((await c.req('GET', '/Users?filter=userName eq "bulk-huge"')).body.totalResults).toBe(0);
  });
});

describe('long URLs', () => {
  it('answers 431 with a SCIM error body on /scim paths and problem JSON elsewhere', async () => {
    const long = 'a'.repeat(20_000);
    const scim = await fetch(`${c.base}/Users?filter=${long}`, { headers: { Authorization: `Bearer ${c.token}` } });
    expect(scim.status).toBe(431);
    expect(scim.headers.get('content-type')).toContain('application/scim+json');
    const body = await scim.json();
    expect(body.schemas).toEqual([URN.error]);
    expect(body.status).toBe('431');
    const api = await fetch(`${server.url}/api/v1/tenants?x=${long}`);
    expect(api.status).toBe(431);
    expect(api.headers.get('content-type')).toContain('application/problem+json');
    expect((await api.json()).status).toBe(431);
  });
});

// PGlite (one in-process session) does not enforce statement_timeout: the timeout is PostgreSQL's.
describe.skipIf(!process.env.DATABASE_URL)('statement timeout (PostgreSQL)', () => {
  let slow: TestServer;
  let sc: ScimClient;
  beforeAll(async () => {
    ({ server: slow, client: sc } = await startScim({
      STATEMENT_TIMEOUT_MS: '300',
      SCIM_FILTER_MAX_COMPLEXITY: '1000',
    }));
  });
  afterAll(async () => slow?.close());

  it('cancels the 200-clause filter past the limit and answers 503 with Retry-After in SCIM form', async () => {
    const t0 = performance.now();
    const res = await sc.req('GET', `/Users?filter=${encodeURIComponent(clauses(200))}`);
    const ms = performance.now() - t0;
    console.log(`200-clause filter, limit lifted, 300 ms timeout: ${res.status} in ${ms.toFixed(0)} ms`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body.schemas).toEqual([URN.error]);
    expect(res.body.status).toBe('503');
    expect(ms).toBeLessThan(3000);
    expect((await sc.req('GET', '/Users?count=1')).status).toBe(200); // the worker and its connection still serve
  });

  it('answers 503 problem JSON on the privileges API when a query waits past the timeout', async () => {
    const { adminToken } = await seedTenant(slow.store);
    const sequelize = slow.server.db.sequelize;
    // A real wait: another session holds the tokens table, so the token lookup blocks until cancelled.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = sequelize.transaction(async (transaction) => {
      await sequelize.query('SET LOCAL statement_timeout = 0', { transaction });
      await sequelize.query('LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE', { transaction });
      locked();
      await held;
    });
    await isLocked;
    try {
      const res = await fetch(`${slow.url}/api/v1/tenant`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await res.json()).title).toBe('unavailable');
    } finally {
      release();
      await holder;
    }
  });
});
