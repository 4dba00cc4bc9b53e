import { pino } from 'pino';
import { Sequelize } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketPath } from '../../src/db/embedded.js';
import { knownMigrations } from '../../src/db/migrator.js';
import { createApp } from '../../src/http/app.js';
import { readinessCheck } from '../../src/http/health.js';
import { backendName, createTestDatabase, onPostgres, type TestDatabase } from '../support/db.js';
import { TcpProxy } from '../support/tcp-proxy.js';

describe(`readiness follows the database (${backendName})`, () => {
  let t: TestDatabase;
  let proxy: TcpProxy;
  let viaProxy: Sequelize;
  beforeAll(async () => {
    t = await createTestDatabase();
    proxy = new TcpProxy(
      onPostgres ? { host: '127.0.0.1', port: Number(new URL(t.url!).port || 5432) } : socketPath(t.dataDir!),
    );
    const port = await proxy.start();
    const database = onPostgres ? new URL(t.url!).pathname.slice(1) : 'postgres';
    viaProxy = new Sequelize(database, 'postgres', '', {
      host: '127.0.0.1',
      port,
      dialect: 'postgres',
      logging: false,
      pool: { max: 1, acquire: 3000 },
    });
  });
  afterAll(async () => {
    await viaProxy.close();
    await proxy.stop();
    await t.cleanup();
  });

  const ready = async (app: ReturnType<typeof createApp>) => {
    const res = await app.request('/readyz');
    return { status: res.status, body: await res.json() };
  };

  it('is 503 when the database is gone and 200 again when it returns', async () => {
    const app = createApp({
      config: t.config,
      store: t.store,
      logger: pino({ level: 'silent' }),
      readiness: readinessCheck(viaProxy, await knownMigrations(), 1500),
    });
    expect(await ready(app)).toMatchObject({ status: 200, body: { ready: true } });

    await proxy.stop();
    const down = await ready(app);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ ready: false, checks: { database: 'unreachable' } });
    // Liveness does not depend on the database: the process is fine, only not ready.
    expect((await app.request('/healthz')).status).toBe(200);

    await proxy.start();
    await expect.poll(async () => (await ready(app)).status, { timeout: 10_000, interval: 200 }).toBe(200);
  });

  it('is 503 while migrations are pending', async () => {
    const app = createApp({
      config: t.config,
      store: t.store,
      logger: pino({ level: 'silent' }),
      readiness: readinessCheck(t.db.sequelize, [...(await knownMigrations()), '9999_future.sql']),
    });
    expect(await ready(app)).toMatchObject({
      status: 503,
      body: { checks: { database: 'ok', migrations: 'pending' } },
    });
  });
});
