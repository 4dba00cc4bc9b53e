import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/connect.js';
import { createStore, inTransaction } from '../../src/db/store.js';
import { emitRosterSynced } from '../../src/domain/events.js';
import { backendName, testDatabaseConfig } from '../support/db.js';
import { runCli } from '../support/processes.js';

/** `rosterbridge webhook …`: the admin API's endpoint and delivery operations on the command line. */
describe(`rosterbridge webhook (${backendName})`, () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let config: Awaited<ReturnType<typeof testDatabaseConfig>>['config'];

  beforeAll(async () => {
    ({ config, cleanup } = await testDatabaseConfig());
    env = { DATA_DIR: config.dataDir, ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}) };
    expect((await runCli(['tenant', 'create', '--slug', 'hook-school', '--name', 'Hook School'], env)).code).toBe(0);
  });
  afterAll(() => cleanup?.());

  it('adds an endpoint (secret printed once), lists, inspects and replays deliveries, deletes; refuses private URLs', async () => {
    const refused = await runCli(
      ['webhook', 'add', '--tenant', 'hook-school', '--url', 'http://127.0.0.1:9/x', '--events', 'roster.synced'],
      env,
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/loopback, private or link-local/);
    const added = await runCli(
      [
        'webhook',
        'add',
        '--tenant',
        'hook-school',
        '--url',
        'http://127.0.0.1:9/x',
        '--events',
        'roster.synced',
        '--json',
      ],
      { ...env, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' },
    );
    expect(added.code).toBe(0);
    const endpoint = JSON.parse(added.stdout);
    expect(endpoint.secret).toMatch(/^whsec_/);
    const list = await runCli(['webhook', 'list', '--tenant', 'hook-school'], env);
    expect(list.stdout).toContain(endpoint.id);
    expect(list.stdout).toMatch(/\benabled\b/);
    expect(list.stdout).not.toContain('whsec_');

    // An event written while no server runs waits, pending, for the server's dispatcher.
    const db = await connectDatabase(config);
    const store = createStore(db.sequelize);
    const [{ id: tenantId }] = await store.models.Tenant.findAll({ where: { slug: 'hook-school' }, raw: true });
    await inTransaction(store, (t) =>
      emitRosterSynced(store, t, tenantId, {
        source: 'nrps',
        courseId: null,
        added: 1,
        updated: 0,
        ended: 0,
        errors: 0,
      }),
    );
    await db.close();
    const deliveries = await runCli(['webhook', 'deliveries', '--tenant', 'hook-school', '--json'], env);
    const [d] = JSON.parse(deliveries.stdout);
    expect(d).toMatchObject({ eventType: 'roster.synced', status: 'pending', attempts: 0, endpointId: endpoint.id });
    const one = await runCli(['webhook', 'delivery', '--tenant', 'hook-school', d.id], env);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('roster.synced');
    const replay = await runCli(['webhook', 'replay', '--tenant', 'hook-school', d.id, '--json'], env);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ replayOf: d.id, status: 'pending' });

    expect((await runCli(['webhook', 'delete', '--tenant', 'hook-school', endpoint.id], env)).code).toBe(0);
    const after = await runCli(['webhook', 'deliveries', '--tenant', 'hook-school', '--json'], env);
    expect(JSON.parse(after.stdout).map((x: { status: string }) => x.status)).toEqual(['cancelled', 'cancelled']);
  }, 400_000);
});
