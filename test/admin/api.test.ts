import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendName } from '../support/db.js';
import { seedTenant } from '../support/server.js';
import { apiClient, privilegesHarness, type Api } from '../privileges/helpers.js';

/**
 * The school admin page's data on the admin API, for scripts: overview, SCIM tokens (the secret
 * once), the provisioning log fed by real SCIM requests, and tenant isolation of all of it.
 */
describe(`admin API: overview, SCIM tokens and logs on ${backendName}`, () => {
  let h: Awaited<ReturnType<typeof privilegesHarness>>;
  let other: Api;

  beforeAll(async () => {
    h = await privilegesHarness();
    other = apiClient(h.server, (await seedTenant(h.server.store)).adminToken);
  });
  afterAll(async () => {
    await h?.close();
  });

  const scimGet = (token: string, path: string) =>
    fetch(`${h.server.url}/scim/v2${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('creates a SCIM token whose secret appears once, lists it without it, and revokes it', async () => {
    const made = await h.api.post('/tenant/scim-tokens', { name: 'Okta', expiresIn: '90d' });
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^rb_scim_[\w-]{43}$/);
    expect(Date.parse(made.body.expiresAt) - Date.now()).toBeGreaterThan(89 * 86_400_000);
    expect((await scimGet(made.body.token, '/Users')).status).toBe(200);

    const list = await h.api.get('/tenant/scim-tokens');
    expect(list.body.items.map((t: { name: string }) => t.name)).toContain('Okta');
    expect(JSON.stringify(list.body)).not.toContain(made.body.token);

    const revoked = await h.api.del(`/tenant/scim-tokens/${made.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    expect((await scimGet(made.body.token, '/Users')).status).toBe(401);
  });

  it('refuses a bad name or expiry with a 400 naming the field, and other tenants’ tokens with 404', async () => {
    const bad = await h.api.post('/tenant/scim-tokens', { name: '', expiresIn: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/name|expiresIn/);
    const mine = await h.api.post('/tenant/scim-tokens', { name: 'Mine' });
    expect((await other.del(`/tenant/scim-tokens/${mine.body.id}`)).status).toBe(404);
    expect(
      (await h.api.get('/tenant/scim-tokens')).body.items.find((t: { id: string }) => t.id === mine.body.id).revokedAt,
    ).toBeNull();
  });

  it('answers the provisioning log newest first, paged, with only failures on request, and only to its tenant', async () => {
    await scimGet(h.scimToken, '/Users');
    await scimGet(h.scimToken, '/Users/00000000-0000-4000-8000-000000000000');
    await scimGet(h.scimToken, '/ServiceProviderConfig');
    const first = await h.api.get('/tenant/provisioning-log?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((e: { resource: string }) => e.resource)).toEqual(['ServiceProviderConfig', 'Users']);
    expect(first.body.items[1]).toMatchObject({ method: 'GET', status: 404, target: null });
    expect(first.body.items[1].detail).toBeTruthy();
    const second = await h.api.get(`/tenant/provisioning-log?limit=2&before=${first.body.next}`);
    expect(second.body.items[0]).toMatchObject({ resource: 'Users', status: 200 });
    const failed = await h.api.get('/tenant/provisioning-log?failed=true');
    expect(failed.body.items.every((e: { status: number }) => e.status >= 400)).toBe(true);
    expect((await other.get('/tenant/provisioning-log')).body.items).toEqual([]);
    expect((await h.api.get('/tenant/provisioning-log?before=abc')).status).toBe(400);
  });

  it('answers an overview with seats, people by status, the last successful SCIM call and the URLs', async () => {
    await fetch(`${h.server.url}/scim/v2/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.scimToken}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'kim@school.example' }),
    });
    const o = await h.api.get('/tenant/overview');
    expect(o.status).toBe(200);
    expect(o.body).toMatchObject({
      seatLimit: null,
      seatsUsed: 1,
      peopleByStatus: { provisioned: 1 },
      scimBaseUrl: `${h.server.config.publicUrl}/scim/v2`,
      toolUrls: { jwks: `${h.server.config.publicUrl}/lti/jwks` },
    });
    expect(Date.now() - Date.parse(o.body.lastScimSuccessAt)).toBeLessThan(60_000);
    expect((await other.get('/tenant/overview')).body.lastScimSuccessAt).toBeNull();
  });

  it('is for admin tokens only', async () => {
    const res = await fetch(`${h.server.url}/api/v1/tenant/provisioning-log`, {
      headers: { authorization: `Bearer ${h.scimToken}` },
    });
    expect(res.status).toBe(403);
    expect((await fetch(`${h.server.url}/api/v1/tenant/launch-log`)).status).toBe(401);
  });
});
