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
