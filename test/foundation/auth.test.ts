import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateTenant } from '../../src/domain/tenants.js';
import { createToken, revokeToken } from '../../src/domain/tokens.js';
import { backendName } from '../support/db.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

describe(`tenant token authentication (${backendName}, real socket)`, () => {
  let s: TestServer;
  let a: Awaited<ReturnType<typeof seedTenant>>;
  let b: Awaited<ReturnType<typeof seedTenant>>;
  beforeAll(async () => {
    s = await startTestServer();
    a = await seedTenant(s.store, 'school-a');
    b = await seedTenant(s.store, 'school-b');
  });
  afterAll(() => s.close());

  const getTenant = (authorization?: string) =>
    fetch(`${s.url}/api/v1/tenant`, { headers: authorization ? { authorization } : {} });

  async function expect401(res: Response, detail: RegExp) {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const body = await res.json();
    expect(body).toMatchObject({ status: 401, title: 'unauthorized' });
    expect(body.detail).toMatch(detail);
  }

  it('an admin token reads its own tenant', async () => {
    const res = await getTenant(`Bearer ${a.adminToken}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: a.tenant.id,
      slug: 'school-a',
      name: 'School school-a',
      status: 'active',
      seatLimit: null,
    });
  });

  it('a token of tenant A never resolves tenant B', async () => {
    const [ra, rb] = await Promise.all([getTenant(`Bearer ${a.adminToken}`), getTenant(`Bearer ${b.adminToken}`)]);
    expect((await ra.json()).id).toBe(a.tenant.id);
    expect((await rb.json()).id).toBe(b.tenant.id);
  });

  it('401 without a token', async () => expect401(await getTenant(), /Missing bearer token/));
  it('401 for a header that is not Bearer', async () =>
    expect401(await getTenant(`Basic ${btoa('a:b')}`), /Malformed Authorization/));
  it('401 for a malformed token', async () =>
    expect401(await getTenant('Bearer not-a-token'), /Malformed bearer token/));
  it('401 for a well-formed token nobody issued', async () =>
    expect401(await getTenant(`Bearer rb_admin_${'A'.repeat(43)}`), /Unknown bearer token/));

  it('401 for a revoked token, from the moment it is revoked', async () => {
    const { token, view } = await createToken(s.store, { actor: 'test' }, { tenantId: a.tenant.id, kind: 'admin' });
    expect((await getTenant(`Bearer ${token}`)).status).toBe(200);
    await revokeToken(s.store, { actor: 'test' }, a.tenant.id, view.id);
    await expect401(await getTenant(`Bearer ${token}`), /revoked/);
  });

  it('401 for an expired token', async () => {
    const { token } = await createToken(
      s.store,
      { actor: 'test' },
      {
        tenantId: a.tenant.id,
        kind: 'admin',
        expiresAt: new Date(Date.now() + 1500),
      },
    );
    expect((await getTenant(`Bearer ${token}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600)); // the token's time runs out (no write tells the cache)
    await expect401(await getTenant(`Bearer ${token}`), /expired/);
  });

  it('403 for a token of the wrong kind', async () => {
    const res = await getTenant(`Bearer ${a.scimToken}`);
    expect(res.status).toBe(403);
    expect((await res.json()).detail).toMatch(/needs a admin token; this is a scim token/);
  });

  it('401 once the tenant is soft-deleted', async () => {
    const c = await seedTenant(s.store, 'school-gone');
    await s.store.models.Tenant.update({ deletedAt: new Date() }, { where: { id: c.tenant.id } });
    await expect401(await getTenant(`Bearer ${c.adminToken}`), /Unknown bearer token/);
  });

  it('403 while the tenant is suspended, 200 again when reactivated', async () => {
    const c = await seedTenant(s.store, 'school-paused');
    await updateTenant(s.store, { actor: 'test' }, 'school-paused', { status: 'suspended' });
    const paused = await getTenant(`Bearer ${c.adminToken}`);
    expect(paused.status).toBe(403);
    expect((await paused.json()).detail).toMatch(/suspended/);
    await updateTenant(s.store, { actor: 'test' }, 'school-paused', { status: 'active' });
    expect((await getTenant(`Bearer ${c.adminToken}`)).status).toBe(200);
  });

  it('records last use without writing on every request', async () => {
    const c = await seedTenant(s.store, 'school-usage');
    const row = () => s.store.models.ApiToken.findOne({ where: { tenantId: c.tenant.id, kind: 'admin' } });
    expect((await row())!.get('lastUsedAt')).toBeNull();
    await getTenant(`Bearer ${c.adminToken}`);
    await expect.poll(async () => (await row())!.get('lastUsedAt'), { timeout: 3000 }).not.toBeNull();
    const first = (await row())!.get('lastUsedAt');
    for (let i = 0; i < 5; i++) await getTenant(`Bearer ${c.adminToken}`);
    await new Promise((r) => setTimeout(r, 100));
    expect((await row())!.get('lastUsedAt')).toEqual(first);
  });

  it('only a hash and a short prefix of the secret are stored', async () => {
    const rows = await s.store.models.ApiToken.findAll({ where: { tenantId: a.tenant.id } });
    for (const r of rows) {
      expect(r.get('tokenHash')).toMatch(/^[0-9a-f]{64}$/);
      expect(String(r.get('prefix')).length).toBeLessThanOrEqual(16);
      expect(JSON.stringify(r.get())).not.toContain(a.adminToken);
    }
  });

  it('audits token creation and revocation', async () => {
    const events = await s.store.models.AuditEvent.findAll({
      where: { tenantId: a.tenant.id },
      order: [['id', 'ASC']],
    });
    const actions = events.map((e) => e.get('action'));
    expect(actions).toEqual(expect.arrayContaining(['tenant.create', 'token.create', 'token.revoke']));
    const revoke = events.find((e) => e.get('action') === 'token.revoke')!;
    expect(revoke.get('before')).toMatchObject({ revokedAt: null });
    expect(revoke.get('after')).toMatchObject({ revokedAt: expect.any(String) });
  });
});
