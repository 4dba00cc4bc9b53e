import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { emitRosterSynced } from '../../src/domain/events.js';
import { createEndpoint } from '../../src/domain/webhooks.js';
import { isPrivateAddress } from '../../src/domain/outbound-target.js';
import { apiClient, sqlOn } from '../privileges/helpers.js';
import { backendName } from '../support/db.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

/** SSRF: without WEBHOOK_ALLOW_PRIVATE_TARGETS, webhooks never reach loopback, private or link-local addresses. */
describe('which addresses are private', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not-an-ip',
  ])('%s is refused', (a) => expect(isPrivateAddress(a)).toBe(true));
  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('%s is public', (a) =>
    expect(isPrivateAddress(a)).toBe(false),
  );
});

let server: TestServer;
let receiver: WebhookReceiver;
beforeAll(async () => {
  server = await startTestServer({ WEBHOOK_RETRY_SCHEDULE: '0.2', JOBS_POLL_INTERVAL_MS: '500' });
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await server?.close();
});

describe(`endpoint URLs without WEBHOOK_ALLOW_PRIVATE_TARGETS on ${backendName}`, () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://[::1]/hook',
    'http://10.0.0.5/hook',
    'http://192.168.0.10/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[fe80::1]/hook',
    'http://0x7f000001/hook',
    'http://2130706433/hook',
  ])('refuses %s with a 400 problem naming why', async (url) => {
    const { adminToken } = await seedTenant(server.store);
    const res = await apiClient(server, adminToken).post('/webhooks/endpoints', { url, eventTypes: ['roster.synced'] });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/loopback, private or link-local|does not resolve/);
  });

  it('refuses a name that resolves to a private address at delivery time too (DNS may change)', async () => {
    const { tenant } = await seedTenant(server.store);
    // As if `localhost` had resolved to a public address when it was registered.
    const endpoint = await createEndpoint(
      server.store,
      { actor: 'test' },
      tenant.id,
      { url: receiver.url.replace('127.0.0.1', 'localhost'), eventTypes: ['roster.synced'] },
      { allowPrivateTargets: true },
    );
    receiver.secret = endpoint.secret;
    await inTransaction(server.store, (t) =>
      emitRosterSynced(server.store, t, tenant.id, {
        source: 'nrps',
        courseId: null,
        added: 0,
        updated: 0,
        ended: 0,
        errors: 0,
      }),
    );
    const end = Date.now() + 10_000;
    let rows: Array<{ status: string; last_error: string }> = [];
    while (Date.now() < end) {
      rows = await sqlOn(server.store)('SELECT status, last_error FROM webhook_deliveries WHERE tenant_id = $1', [
        tenant.id,
      ]);
      if (rows[0]?.status === 'dead') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows[0]).toMatchObject({ status: 'dead' });
    expect(rows[0].last_error).toMatch(/private address/);
    expect(receiver.received).toHaveLength(0);
  });
});
