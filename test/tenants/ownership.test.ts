import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTenant } from '../../src/domain/tenant-export.js';
import { deleteTenant } from '../../src/domain/tenants.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/**
 * A tenant's owner and admins (admin API, audited, one owner moved only by transfer) and the
 * operator API, which alone acts across tenants: with the operator token, never a tenant's.
 */
const OPERATOR_TOKEN = 'op_test_0123456789abcdefghijklmnopqrstuvwxyz';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ OPERATOR_TOKEN_SHA256: sha256(OPERATOR_TOKEN) });
}, 120_000);
afterAll(async () => server?.close());

const call = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

describe('owner and admins of a tenant', () => {
  it('names a first owner, adds admins (a placeholder person is fine) and lists the owner first', async () => {
    const { adminToken } = await seedTenant(server.store);
    const admin = await call('POST', '/api/v1/tenant/admins', adminToken, { admin: 'email:it@school.example' });
    expect(admin.status).toBe(201);
    expect(admin.body).toMatchObject({ role: 'admin', kind: 'person', name: 'it@school.example' });
    const owner = await call('POST', '/api/v1/tenant/admins', adminToken, {
      admin: 'email:head@school.example',
      role: 'owner',
    });
    expect(owner.status).toBe(201);
    const ops = await call('POST', '/api/v1/tenant/admins', adminToken, { admin: 'operator:Hosting desk' });
    expect(ops.body).toMatchObject({ kind: 'operator', name: 'Hosting desk', role: 'admin' });

    const list = await call('GET', '/api/v1/tenant/admins', adminToken);
    expect(list.body.items.map((a: { name: string; role: string }) => `${a.role}:${a.name}`)).toEqual([
      'owner:head@school.example',
      'admin:it@school.example',
      'admin:Hosting desk',
    ]);

    const again = await call('POST', '/api/v1/tenant/admins', adminToken, { admin: 'email:IT@school.example' });
    expect(again.status).toBe(409);
    const secondOwner = await call('POST', '/api/v1/tenant/admins', adminToken, {
      admin: 'email:other@school.example',
      role: 'owner',
    });
    expect(secondOwner.status).toBe(409);
    expect(secondOwner.body.detail).toMatch(/transfer/);
    const nobody = await call('POST', '/api/v1/tenant/admins', adminToken, { admin: 'somebody' });
    expect(nobody.status).toBe(400);
  });

  it('moves ownership only by transfer: the owner cannot be removed, the old owner stays an admin', async () => {
    const { adminToken } = await seedTenant(server.store);
    await call('POST', '/api/v1/tenant/admins', adminToken, { admin: 'email:a@school.example', role: 'owner' });
    const removeOwner = await call(
      'DELETE',
      `/api/v1/tenant/admins/${encodeURIComponent('email:a@school.example')}`,
      adminToken,
    );
    expect(removeOwner.status).toBe(409);
    expect(removeOwner.body.detail).toMatch(/transfer ownership/);

    const moved = await call('POST', '/api/v1/tenant/owner', adminToken, { to: 'email:b@school.example' });
    expect(moved.status).toBe(200);
    expect(moved.body.owner).toMatchObject({ role: 'owner', name: 'b@school.example' });
    expect(moved.body.previous).toMatchObject({ role: 'admin', name: 'a@school.example' });
    const self = await call('POST', '/api/v1/tenant/owner', adminToken, { to: 'email:b@school.example' });
    expect(self.status).toBe(409);

    const removed = await call('DELETE', `/api/v1/tenant/admins/${moved.body.previous.id}`, adminToken);
    expect(removed.status).toBe(200);
    const list = await call('GET', '/api/v1/tenant/admins', adminToken);
    expect(list.body.items).toHaveLength(1);

    const audit = await call('GET', '/api/v1/audit?action=tenant.owner.transfer', adminToken);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({
      before: { role: 'owner', personId: moved.body.previous.personId },
      after: { role: 'owner', personId: moved.body.owner.personId },
    });
  });

  it('keeps the last admin of a tenant without owner', async () => {
    const { adminToken } = await seedTenant(server.store);
    const only = await call('POST', '/api/v1/tenant/admins', adminToken, { admin: 'operator:night shift' });
    const removed = await call('DELETE', `/api/v1/tenant/admins/${only.body.id}`, adminToken);
    expect(removed.status).toBe(409);
    expect(removed.body.detail).toMatch(/last admin/);
  });

  it('never ends up with two owners when two transfers race', async () => {
    const { tenant, adminToken } = await seedTenant(server.store);
    await call('POST', '/api/v1/tenant/admins', adminToken, { admin: 'email:first@school.example', role: 'owner' });
    const results = await Promise.all(
      ['x', 'y', 'z'].map((n) => call('POST', '/api/v1/tenant/owner', adminToken, { to: `email:${n}@school.example` })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const owners = await server.store.models.TenantAdmin.count({ where: { tenantId: tenant.id, role: 'owner' } });
    expect(owners).toBe(1);
    const list = await call('GET', '/api/v1/tenant/admins', adminToken);
    expect(list.body.items).toHaveLength(4);
  });
});

describe('the operator API', () => {
  it('refuses tenant tokens, other tokens and no token', async () => {
    const { adminToken, scimToken } = await seedTenant(server.store);
    expect((await call('GET', '/operator/v1/tenants', adminToken)).status).toBe(403);
    expect((await call('GET', '/operator/v1/tenants', scimToken)).status).toBe(403);
    expect((await call('GET', '/operator/v1/tenants', `${OPERATOR_TOKEN}x`)).status).toBe(401);
    expect((await fetch(`${server.url}/operator/v1/tenants`)).status).toBe(401);
    // and the operator token is no tenant admin token either
    expect((await call('GET', '/api/v1/tenant', OPERATOR_TOKEN)).status).toBe(401);
  });

  it('lists every tenant, exports one as the CLI does, restores a deleted one and wipes one out', async () => {
    const a = await seedTenant(server.store);
    const b = await seedTenant(server.store);
    await call('POST', '/api/v1/tenant/admins', a.adminToken, { admin: 'email:owner@a.example', role: 'owner' });

    const list = await call('GET', '/operator/v1/tenants', OPERATOR_TOKEN);
    const slugs = list.body.items.map((t: { slug: string }) => t.slug);
    expect(slugs).toEqual(expect.arrayContaining([a.tenant.slug, b.tenant.slug]));

    const res = await fetch(`${server.url}/operator/v1/tenants/${a.tenant.slug}/export`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const viaHttp = await res.text();
    let viaCli = '';
    for await (const chunk of exportTenant(server.store, a.tenant.id)) viaCli += chunk;
    expect(viaHttp).toBe(viaCli);
    const doc = JSON.parse(viaHttp);
    expect(doc.tenant.id).toBe(a.tenant.id);
    expect(doc.tables.tenant_admins).toHaveLength(1);
    expect(viaHttp).not.toContain(b.tenant.id);

    await deleteTenant(server.store, { actor: 'test' }, a.tenant.slug);
    expect((await call('GET', '/api/v1/tenant', a.adminToken)).status).toBe(401);
    const restored = await call('POST', `/operator/v1/tenants/${a.tenant.id}/restore`, OPERATOR_TOKEN);
    expect(restored.status).toBe(200);
    expect((await call('GET', '/api/v1/tenant', a.adminToken)).status).toBe(200);

    const wrong = await call('POST', `/operator/v1/tenants/${b.tenant.slug}/wipe`, OPERATOR_TOKEN, { confirm: 'nope' });
    expect(wrong.status).toBe(400);
    const wiped = await call('POST', `/operator/v1/tenants/${b.tenant.slug}/wipe`, OPERATOR_TOKEN, {
      confirm: b.tenant.slug,
    });
    expect(wiped.status).toBe(200);
    expect(wiped.body.rows.api_tokens).toBe(2);
    expect((await call('GET', `/operator/v1/tenants/${b.tenant.slug}`, OPERATOR_TOKEN)).status).toBe(404);
    const record = await server.store.models.OperatorAuditEvent.findOne({
      where: { targetTenantId: b.tenant.id, action: 'tenant.wipe' },
    });
    expect(record?.actor).toBe('operator');
  });

  it('transfers ownership of any tenant', async () => {
    const { tenant } = await seedTenant(server.store);
    const moved = await call('POST', `/operator/v1/tenants/${tenant.slug}/owner`, OPERATOR_TOKEN, {
      to: 'key:S-9001',
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ owner: { role: 'owner', kind: 'person' }, previous: null });
    const admins = await call('GET', `/operator/v1/tenants/${tenant.id}/admins`, OPERATOR_TOKEN);
    expect(admins.body.items).toHaveLength(1);
  });

  it('answers 401 naming the missing setting when no operator token is configured', async () => {
    const plain = await startTestServer();
    try {
      const res = await fetch(`${plain.url}/operator/v1/tenants`, { headers: { authorization: 'Bearer anything' } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/OPERATOR_TOKEN_SHA256/);
    } finally {
      await plain.close();
    }
  });
});
