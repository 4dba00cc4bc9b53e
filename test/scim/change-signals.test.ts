import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URN } from '../../scim/schemas.js';
import { onAuthzChange } from '../../src/domain/change-signal.js';
import type { TestServer } from '../support/server.js';
import { scimClient, startScim } from './client.js';

let server: TestServer;
beforeAll(async () => {
  ({ server } = await startScim());
});
afterAll(async () => server?.close());

/** The tenants signalled while `fn` ran (the server runs in this process). */
async function signalsOf<T>(fn: () => Promise<T>): Promise<{ result: T; tenants: Array<string | null> }> {
  const tenants: Array<string | null> = [];
  const off = onAuthzChange((tenantId) => tenants.push(tenantId));
  try {
    return { result: await fn(), tenants };
  } finally {
    off();
  }
}

describe('SCIM writes signal their tenant after commit', () => {
  it('signals exactly the written tenant for every user and group write, and nothing for a refused one', async () => {
    const c = await scimClient(server);
    const only = (tenants: Array<string | null>) => {
      expect(tenants.length).toBeGreaterThan(0);
      expect(new Set(tenants)).toEqual(new Set([c.tenantId]));
    };

    const created = await signalsOf(() => c.req('POST', '/Users', { schemas: [URN.user], userName: 'sig@school.org' }));
    expect(created.result.status).toBe(201);
    only(created.tenants);
    const userId = created.result.body.id as string;

    const refused = await signalsOf(() => c.req('POST', '/Users', { schemas: [URN.user], userName: 'sig@school.org' }));
    expect(refused.result.status).toBe(409);
    expect(refused.tenants).toEqual([]);

    for (const [method, body] of [
      ['PUT', { schemas: [URN.user], userName: 'sig@school.org', displayName: 'Sig' }],
      ['PATCH', { schemas: [URN.patchOp], Operations: [{ op: 'replace', path: 'active', value: false }] }],
    ] as const) {
      const r = await signalsOf(() => c.req(method, `/Users/${userId}`, body));
      expect(r.result.status, method).toBeLessThan(300);
      only(r.tenants);
    }

    const group = await signalsOf(() =>
      c.req('POST', '/Groups', { schemas: [URN.group], displayName: 'Sig', members: [{ value: userId }] }),
    );
    expect(group.result.status).toBe(201);
    only(group.tenants);
    const groupId = group.result.body.id as string;
    for (const [method, body] of [
      ['PUT', { schemas: [URN.group], displayName: 'Sig 2', members: [{ value: userId }] }],
      ['PATCH', { schemas: [URN.patchOp], Operations: [{ op: 'remove', path: 'members' }] }],
      ['DELETE', undefined],
    ] as const) {
      const r = await signalsOf(() => c.req(method, `/Groups/${groupId}`, body));
      expect(r.result.status, method).toBeLessThan(300);
      only(r.tenants);
    }

    const deleted = await signalsOf(() => c.req('DELETE', `/Users/${userId}`));
    expect(deleted.result.status).toBe(204);
    only(deleted.tenants);
  });
});
