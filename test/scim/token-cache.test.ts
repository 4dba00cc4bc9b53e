import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeToken } from '../../src/domain/tokens.js';
import { onPostgres } from '../support/db.js';
import { spawnServer, type ServerProcess } from '../support/processes.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/**
 * SCIM tokens are authenticated from an in-process cache (docs/decisions/0008). A revocation must
 * still be refused everywhere within a second: by the process that revoked at once (its audit
 * signals after commit), and by every other process through PostgreSQL NOTIFY — here a second
 * server process on the same database, as behind a load balancer.
 */
const users = (url: string, token: string) =>
  fetch(`${url}/scim/v2/Users?count=1`, { headers: { Authorization: `Bearer ${token}` } });

async function refusedWithin(ms: number, probe: () => Promise<Response>): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await probe();
    const waited = Date.now() - started;
    if (res.status === 401) {
      expect(((await res.json()) as { detail: string }).detail).toMatch(/revoked/);
      return waited;
    }
    await res.arrayBuffer();
    if (waited > ms) throw new Error(`still accepted ${waited} ms after the revocation (status ${res.status})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SCIM token cache', () => {
  let a: TestServer;
  let b: ServerProcess | undefined;
  beforeAll(async () => {
    a = await startTestServer();
    // A second process on the same database (PostgreSQL only: PGlite is one process's database).
    if (onPostgres) b = await spawnServer({ DATABASE_URL: a.config.databaseUrl!, LOG_LEVEL: 'warn' });
  }, 60_000);
  afterAll(async () => {
    if (b) {
      b.child.kill('SIGTERM');
      await b.exited;
    }
    await a?.close();
  });

  it('serves repeated requests without reading the token again, even while the tenant is being written', async () => {
    const { scimToken } = await seedTenant(a.store);
    // The LISTEN connection opens in the background at start-up; until it is up nothing is cached.
    await new Promise((r) => setTimeout(r, 500));
    expect((await users(a.url, scimToken)).status).toBe(200);
    const statements: string[] = [];
    a.store.sequelize.addHook('afterQuery', 'count-token', (_o, q) => {
      statements.push((q as unknown as { sql?: string }).sql ?? '');
    });
    const started = Date.now();
    try {
      for (let i = 0; i < 5; i++) {
        expect((await users(a.url, scimToken)).status).toBe(200);
        // A SCIM create signals the tenant's authorization change; it must not drop the token.
        const created = await fetch(`${a.url}/scim/v2/Users`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${scimToken}`, 'Content-Type': 'application/scim+json' },
          body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `tc-${i}@x.org` }),
        });
        expect(created.status).toBe(201);
      }
    } finally {
      a.store.sequelize.removeHook('afterQuery', 'count-token');
    }
    // With LISTEN (PostgreSQL) the token is not read again; without it (PGlite) at most once a second.
    const reads = statements.filter((s) => s.includes('FROM api_tokens')).length;
    const allowed = onPostgres ? 0 : 1 + Math.floor((Date.now() - started) / 1000);
    expect(reads).toBeLessThanOrEqual(allowed);
  });

  it('refuses a token revoked in this process at once', async () => {
    const { tenant, scimToken } = await seedTenant(a.store);
    expect((await users(a.url, scimToken)).status).toBe(200);
    await revokeToken(a.store, { actor: 'test' }, tenant.id, scimToken.slice(0, 16));
    const res = await users(a.url, scimToken);
    expect(res.status).toBe(401);
  });

  it.skipIf(!onPostgres)('refuses a token revoked by another instance within 1 s', async () => {
    const { tenant, scimToken } = await seedTenant(a.store);
    // Both instances have the token cached.
    for (let i = 0; i < 3; i++) {
      expect((await users(a.url, scimToken)).status).toBe(200);
      expect((await users(b!.url, scimToken)).status).toBe(200);
    }
    // Revoked in this process; the other process learns of it only through NOTIFY.
    await revokeToken(a.store, { actor: 'test' }, tenant.id, scimToken.slice(0, 16));
    const waited = await refusedWithin(1000, () => users(b!.url, scimToken));
    expect(waited).toBeLessThan(1000);
  });

  it.skipIf(!onPostgres)('refuses a token revoked by a plain SQL write on the database within 1 s', async () => {
    const { scimToken } = await seedTenant(a.store);
    expect((await users(a.url, scimToken)).status).toBe(200);
    expect((await users(b!.url, scimToken)).status).toBe(200);
    // No audit, no in-process signal: only the trigger's NOTIFY reaches either instance.
    await a.store.sequelize.query(`UPDATE api_tokens SET revoked_at = now() WHERE prefix = $1`, {
      bind: [scimToken.slice(0, 16)],
    });
    expect(await refusedWithin(1000, () => users(b!.url, scimToken))).toBeLessThan(1000);
    expect(await refusedWithin(1000, () => users(a.url, scimToken))).toBeLessThan(1000);
  });
});
