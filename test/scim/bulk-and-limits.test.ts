import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URN } from '../../scim/schemas.js';
import type { TestServer } from '../support/server.js';
import { scimClient, startScim } from './client.js';

let server: TestServer;
beforeAll(async () => {
  // Small limits so the tests can reach them: 5 bulk operations, 20 KiB bulk payload.
  ({ server } = await startScim({
    SCIM_BULK_MAX_OPERATIONS: '5',
    SCIM_BULK_MAX_PAYLOAD_BYTES: String(20 * 1024),
    BODY_LIMIT_BYTES: String(8 * 1024),
  }));
});
afterAll(async () => server?.close());

const bulk = (Operations: unknown[], extra: Record<string, unknown> = {}) => ({
  schemas: [URN.bulkRequest],
  Operations,
  ...extra,
});
/** A Bulk operation that creates a resource, known as `bulkId` to the request's other operations. */
const create = (path: '/Users' | '/Groups', bulkId: string, data: Record<string, unknown>) => ({
  method: 'POST',
  path,
  bulkId,
  data,
});

describe('SCIM Bulk', () => {
  it('advertises its limits in ServiceProviderConfig', async () => {
    const c = await scimClient(server);
    const r = await c.req('GET', '/ServiceProviderConfig');
    expect(r.body.bulk).toEqual({ supported: true, maxOperations: 5, maxPayloadSize: 20 * 1024 });
    expect(r.body.pagination).toMatchObject({ cursor: true, index: true });
  });

  it('creates a group whose members are users created in the same request (bulkId references, any order)', async () => {
    const c = await scimClient(server);
    const r = await c.req(
      'POST',
      '/Bulk',
      bulk([
        create('/Groups', 'g', {
          schemas: [URN.group],
          displayName: 'Class 1A',
          members: [{ value: 'bulkId:u1' }, { value: 'bulkId:u2' }],
        }),
        create('/Users', 'u1', { schemas: [URN.user], userName: 'kid1' }),
        create('/Users', 'u2', { schemas: [URN.user], userName: 'kid2' }),
        {
          method: 'PATCH',
          path: '/Users/bulkId:u2',
          data: { schemas: [URN.patchOp], Operations: [{ op: 'replace', path: 'title', value: 'Pupil' }] },
        },
        create('/Users', 'u3', { schemas: [URN.user], userName: 'kid3' }),
      ]),
    );
    expect(r.status).toBe(200);
    expect(r.body.schemas).toEqual([URN.bulkResponse]);
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '201', '200', '201']);
    const kid3 = r.body.Operations[4].location.split('/').pop();
    const del = await c.req('POST', '/Bulk', bulk([{ method: 'DELETE', path: `/Users/${kid3}` }]));
    expect(del.body.Operations).toEqual([expect.objectContaining({ method: 'DELETE', status: '204' })]);
    expect((await c.req('GET', `/Users/${kid3}`)).status).toBe(404);
    const groupId = r.body.Operations[0].location.split('/').pop();
    const g = await c.req('GET', `/Groups/${groupId}`);
    expect(g.body.members.map((m: { display: string }) => m.display).sort()).toEqual(['kid1', 'kid2']);
  });

  it('stops after failOnErrors errors and reports each operation with its own status', async () => {
    const c = await scimClient(server);
    const r = await c.req(
      'POST',
      '/Bulk',
      bulk(
        [
          create('/Users', 'a', { userName: 'same' }),
          create('/Users', 'b', { userName: 'same' }),
          create('/Users', 'c', {}),
          create('/Users', 'd', { userName: 'never' }),
        ],
        { failOnErrors: 2 },
      ),
    );
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '409', '400']);
    expect(r.body.Operations[1].response).toMatchObject({ schemas: [URN.error], scimType: 'uniqueness' });
    expect((await c.req('GET', '/Users?filter=userName eq "never"')).body.totalResults).toBe(0);
  });

  it('answers 413 over maxOperations or maxPayloadSize, and accepts a bulk body larger than the general limit', async () => {
    const c = await scimClient(server);
    const six = Array.from({ length: 6 }, (_, i) => ({ method: 'POST', path: '/Users', data: { userName: `u${i}` } }));
    const tooMany = await c.req('POST', '/Bulk', bulk(six));
    expect([tooMany.status, tooMany.body.status]).toEqual([413, '413']);
    const big = await c.req(
      'POST',
      '/Bulk',
      bulk([{ method: 'POST', path: '/Users', data: { userName: 'big', padding: 'x'.repeat(25 * 1024) } }]),
    );
    expect([big.status, big.body.status]).toEqual([413, '413']);
    // 12 KiB: over the general 8 KiB body limit, under Bulk's 20 KiB maxPayloadSize.
    const ok = await c.req(
      'POST',
      '/Bulk',
      // (as 12 strings: one string over 1 KiB is refused on its own, scim/limits.ts)
      bulk([
        { method: 'POST', path: '/Users', data: { userName: 'medium', padding: Array(12).fill('x'.repeat(1024)) } },
      ]),
    );
    expect(ok.body.Operations[0].status).toBe('201');
    const overGeneral = await c.req('POST', '/Users', { userName: 'medium2', padding: 'x'.repeat(12 * 1024) });
    expect([overGeneral.status, overGeneral.body.status]).toEqual([413, '413']);
  });

  it('reports unresolvable bulkId references instead of guessing', async () => {
    const c = await scimClient(server);
    const r = await c.req(
      'POST',
      '/Bulk',
      bulk([create('/Groups', 'g', { displayName: 'G', members: [{ value: 'bulkId:nope' }] })]),
    );
    expect(r.body.Operations[0]).toMatchObject({ status: '400', response: { scimType: 'invalidValue' } });
  });
});

describe('SCIM rate limit', () => {
  let limited: TestServer;
  beforeAll(async () => {
    ({ server: limited } = await startScim({ SCIM_RATE_LIMIT_PER_MINUTE: '3' }));
  });
  afterAll(async () => limited?.close());

  it('answers 429 with an integer Retry-After once a token spends its budget, per token', async () => {
    const a = await scimClient(limited);
    const b = await scimClient(limited);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await a.req('GET', '/Users')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const r = await a.req('GET', '/Users');
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(r.body).toMatchObject({ schemas: [URN.error], status: '429' });
    expect((await b.req('GET', '/Users')).status).toBe(200);
  });

  it('charges a Bulk request one unit per operation', async () => {
    const a = await scimClient(limited);
    const ops = [1, 2, 3].map((i) => ({ method: 'POST', path: '/Users', data: { userName: `bulk-limited-${i}` } }));
    const r = await a.req('POST', '/Bulk', bulk(ops)); // 1 + 2 units: the whole budget of 3
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '201']);
    expect((await a.req('GET', '/Users')).status).toBe(429);
    const fresh = await scimClient(limited);
    const tooMuch = await fresh.req(
      'POST',
      '/Bulk',
      bulk([...ops, ...ops].map((o, i) => ({ ...o, data: { userName: `x${i}` } }))),
    );
    expect([tooMuch.status, tooMuch.headers.get('retry-after')]).toEqual([429, expect.stringMatching(/^\d+$/)]);
    // The refused Bulk ran nothing and took nothing beyond its own request unit.
    expect((await fresh.req('GET', '/Users?filter=userName sw "x"')).body.totalResults).toBe(0);
  });
});
