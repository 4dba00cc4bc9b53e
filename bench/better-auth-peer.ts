import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scim } from '@better-auth/scim';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import pg from 'pg';

/**
 * The durable SCIM peer for bench/scim.bench.ts: Better Auth with its SCIM plugin on PostgreSQL,
 * set up as its documentation describes — its own tables created by `getMigrations`, one managed
 * SCIM connection (its bearer token hashed in the database and looked up per request), served by
 * `toNodeHandler` on a plain Node HTTP server. Versions are pinned in package.json (see
 * bench/README.md for why all of them).
 */
export async function startBetterAuthScim(databaseUrl: string): Promise<{
  url: string;
  token: string;
  pool: pg.Pool;
  close(): Promise<void>;
}> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const options = {
    database: pool,
    baseURL: base,
    secret: 'bench-secret-bench-secret-bench-secret-0123456789',
    telemetry: { enabled: false },
    logger: { disabled: true },
    plugins: [
      scim({
        connections: [],
        managedConnections: { credentialHashSecret: 'bench-credential-hash-secret-0123456789abcdef' },
      }),
    ],
  };
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  const auth = betterAuth(options);
  const created = await auth.api.createSCIMManagedConnection({
    body: {
      scopes: ['scim.users.read', 'scim.users.write', 'scim.groups.read', 'scim.groups.write'],
      expiresAt: new Date(Date.now() + 24 * 3600 * 1000),
      creationRequestId: 'bench-connection',
      provisioningDomainId: 'bench-tenant',
      actorId: 'bench',
    },
  });
  server.on('request', toNodeHandler(auth));
  return {
    url: `${base}/api/auth/scim/v2`,
    token: created.token,
    pool,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
