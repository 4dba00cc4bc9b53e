import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URN } from '../../scim/schemas.js';
import type { TestServer } from '../support/server.js';
import { scimClient, startScim, type ScimClient } from './client.js';

/** Bad input is a 4xx in RFC 7644 §3.12 form, never a 500 — on PGlite and on PostgreSQL. */
let server: TestServer;
let c: ScimClient;
let userId: string;
let groupId: string;
beforeAll(async () => {
  ({ server } = await startScim());
  c = await scimClient(server);
  userId = (await c.req('POST', '/Users', { userName: 'robust', emails: [{ value: 'r@school.org', type: 'work' }] }))
    .body.id;
  groupId = (await c.req('POST', '/Groups', { displayName: 'Robust' })).body.id;
});
afterAll(async () => server?.close());

const randomText = (n: number) => randomBytes(n).toString('base64').slice(0, n);
const patchOp = (ops: unknown) => ({ schemas: [URN.patchOp], Operations: ops });
const q = (f: string) => `/Users?filter=${encodeURIComponent(f)}`;

describe('SCIM robustness', () => {
  const cases: Array<[string, string, () => string, unknown?]> = [
    ['filter naming only an extension URN', 'GET', () => q(`${URN.enterprise} eq "x"`)],
    ['unterminated value path', 'GET', () => q('emails[type eq "work"')],
    ['number for a dateTime', 'GET', () => q('meta.created gt 5')],
    ['bare string filter', 'GET', () => q('"x"')],
    ['complex attribute compared as a whole', 'GET', () => q('name eq "x"')],
    ['bad sortOrder', 'GET', () => '/Users?sortBy=userName&sortOrder=up'],
    ['non-integer startIndex', 'GET', () => '/Users?startIndex=abc'],
    ['cursor with sortBy', 'GET', () => '/Users?cursor=&sortBy=userName'],
    ['dateTime with a five-digit year', 'GET', () => q('meta.created gt "+010000-01-01T00:00:00Z"')],
    ['dateTime in year 0', 'GET', () => q('meta.created gt "0000-01-01T00:00:00Z"')],
    [
      'complex attribute set to a number',
      'PATCH',
      () => `/Users/${userId}`,
      patchOp([{ op: 'replace', path: 'name', value: 5 }]),
    ],
    [
      'userName removed',
      'PATCH',
      () => `/Users/${userId}`,
      patchOp([{ op: 'replace', path: 'userName', value: null }]),
    ],
    ['path not a string', 'PATCH', () => `/Users/${userId}`, patchOp([{ op: 'replace', path: 5 }])],
    ['Operations not an array', 'PATCH', () => `/Users/${userId}`, patchOp('x')],
    ['null operation', 'PATCH', () => `/Users/${userId}`, { Operations: [null] }],
    ['read-only groups', 'PATCH', () => `/Users/${userId}`, patchOp([{ op: 'replace', path: 'groups', value: [] }])],
    [
      'member value a number',
      'PATCH',
      () => `/Groups/${groupId}`,
      patchOp([{ op: 'add', path: 'members', value: [{ value: 5 }] }]),
    ],
    [
      'empty displayName',
      'PATCH',
      () => `/Groups/${groupId}`,
      patchOp([{ op: 'replace', path: 'displayName', value: '' }]),
    ],
    [
      'JSON nested 5,000 deep',
      'POST',
      () => '/Users',
      `{"userName":"deep","x":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    ],
    [
      'filter with 1,500 comparisons',
      'POST',
      () => '/Users/.search',
      { filter: Array.from({ length: 1500 }, (_, i) => `userName eq "u${i}"`).join(' or ') },
    ],
    ['body is an array', 'POST', () => '/Users', [1]],
    ['body is null', 'POST', () => '/Users', 'null'],
    ['NUL in a string', 'POST', () => '/Users', '{"userName":"a\\u0000b"}'],
    ['address country a number', 'POST', () => '/Users', { userName: 'z4', addresses: [{ country: 5 }] }],
    ['Bulk Operations not an array', 'POST', () => '/Bulk', { Operations: 5 }],
    ['Bulk failOnErrors not a number', 'POST', () => '/Bulk', { failOnErrors: 'x', Operations: [] }],
    // Random text does not compress: a 6,000-character key would not fit in a B-tree entry.
    ['userName too long to index', 'POST', () => '/Users', { userName: randomText(6000) }],
    ['externalId too long to index', 'POST', () => '/Users', { userName: 'long-ext', externalId: randomText(6000) }],
    [
      'email too long to index',
      'POST',
      () => '/Users',
      { userName: 'long-mail', emails: [{ value: randomText(6000) }] },
    ],
    ['group displayName too long to index', 'POST', () => '/Groups', { displayName: randomText(6000) }],
  ];
  it.each(cases)('%s → 4xx SCIM error', async (_name, method, path, body) => {
    const r = await c.req(method, path(), body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body).toMatchObject({ schemas: [URN.error], status: String(r.status) });
  });

  it('folds case the way the database does: İ and final Σ still find the user', async () => {
    for (const userName of ['İstanbul@school.org', 'ΣΊΣΥΦΟΣ@school.gr']) {
      expect((await c.req('POST', '/Users', { userName, emails: [{ value: userName, type: 'work' }] })).status).toBe(
        201,
      );
      const r = await c.req('GET', q(`userName eq "${userName}"`));
      expect(r.body.totalResults, userName).toBe(1);
      expect(r.body.Resources[0].emails, userName).toEqual([{ value: userName, type: 'work', primary: false }]);
      expect((await c.req('GET', q(`emails.value eq "${userName.toUpperCase()}"`))).body.totalResults).toBe(1);
      expect((await c.req('POST', '/Users', { userName })).status).toBe(409);
    }
  });

  it('answers an empty page, not an error, for a startIndex beyond any list', async () => {
    for (const path of [
      '/Users?startIndex=99999999999999999999',
      '/Users?startIndex=1e21',
      '/Groups?startIndex=99999999999999999999',
    ]) {
      const r = await c.req('GET', path);
      expect(r.status, path).toBe(200);
      expect(r.body.Resources).toEqual([]);
    }
  });
});
