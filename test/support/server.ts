import { pino } from 'pino';
import type { Config } from '../../src/config.js';
import { createStore, type Store } from '../../src/db/store.js';
import { createTenant } from '../../src/domain/tenants.js';
import { createToken } from '../../src/domain/tokens.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { testDatabaseConfig } from './db.js';

/** The real server on a real socket (port 0), on the backend this run tests. */
export interface TestServer {
  url: string;
  config: Config;
  server: RunningServer;
  store: Store;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const { config, cleanup } = await testDatabaseConfig(env);
  const server = await startServer(config, pino({ level: 'silent' }), { persist: false });
  return {
    url: server.url,
    config,
    server,
    store: createStore(server.db.sequelize),
    async close() {
      await server.close();
      await cleanup();
    },
  };
}

let counter = 0;
/** A fresh tenant with a token of each kind, for tests that need an authenticated caller. */
export async function seedTenant(store: Store, slug = `school-${process.pid}-${++counter}`) {
  const ctx = { actor: 'test' };
  const tenant = await createTenant(store, ctx, { slug, name: `School ${slug}` });
  const admin = await createToken(store, ctx, { tenantId: tenant.id, kind: 'admin' });
  const scim = await createToken(store, ctx, { tenantId: tenant.id, kind: 'scim' });
  return { tenant, adminToken: admin.token, scimToken: scim.token };
}
