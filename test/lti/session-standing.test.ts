import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession } from '../../lti/session.js';
import { STANDING_TTL_MS } from '../../src/domain/session-standing.js';
import { updateTenant } from '../../src/domain/tenants.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/**
 * A launch session is signed for an hour; a person the IdP suspends, or a school an operator
 * suspends, loses it within seconds.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
}, 120_000);
afterAll(async () => server?.close());

async function provisionedSession() {
  const school = await seedTenant(server.store);
  const created = await fetch(`${server.url}/scim/v2/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${school.scimToken}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: `teacher-${Date.now()}@school.example`,
    }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  const { token } = await issueSession(server.store, server.config.publicUrl, {
    tenantId: school.tenant.id,
    personId: created.id,
    courseId: null,
    roles: [],
  });
  const me = () => fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  const lti = () => fetch(`${server.url}/lti/me`, { headers: { authorization: `Bearer ${token}` } });
  return { school, personId: created.id, me, lti };
}

/** Milliseconds until `probe` answers 401, polling every 100 ms for up to 10 s. */
async function timeUntilRefused(probe: () => Promise<Response>): Promise<{ ms: number; detail: string }> {
  const start = Date.now();
  for (;;) {
    const res = await probe();
    if (res.status === 401)
      return { ms: Date.now() - start, detail: ((await res.json()) as { detail: string }).detail };
    await res.body?.cancel();
    if (Date.now() - start > 10_000) throw new Error('session still accepted after 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a launch session follows its person and school', () => {
  it('is refused within seconds once the IdP suspends the person', async () => {
    const s = await provisionedSession();
    expect((await s.me()).status).toBe(200);
    const patched = await fetch(`${server.url}/scim/v2/Users/${s.personId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${s.school.scimToken}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
    });
    expect(patched.status).toBeLessThan(300);
    const refused = await timeUntilRefused(s.me);
    expect(refused.ms).toBeLessThanOrEqual(STANDING_TTL_MS + 1_000);
    expect(refused.detail).toMatch(/suspended/);
    expect((await s.lti()).status).toBe(401);
  });

  it('is refused once the person is deprovisioned (SCIM DELETE)', async () => {
    const s = await provisionedSession();
    expect((await s.lti()).status).toBe(200);
    await fetch(`${server.url}/scim/v2/Users/${s.personId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${s.school.scimToken}` },
    });
    expect((await timeUntilRefused(s.me)).ms).toBeLessThanOrEqual(STANDING_TTL_MS + 1_000);
  });

  it('is refused once the school is suspended', async () => {
    const s = await provisionedSession();
    expect((await s.me()).status).toBe(200);
    await updateTenant(server.store, { actor: 'test' }, s.school.tenant.slug, { status: 'suspended' });
    const refused = await timeUntilRefused(s.me);
    expect(refused.ms).toBeLessThanOrEqual(STANDING_TTL_MS + 1_000);
    expect(refused.detail).toMatch(/school/);
  });
});
