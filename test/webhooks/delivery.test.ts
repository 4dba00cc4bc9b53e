import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { emitRosterSynced, type RosterSyncedData } from '../../src/domain/events.js';
import { createKeySealer } from '../../src/domain/key-sealing.js';
import { insertPerson } from '../../src/domain/people.js';
import { apiClient, enc, scim, scimSetActive, sqlOn } from '../privileges/helpers.js';
import { backendName } from '../support/db.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';
import { startWebhookReceiver, type Received, type WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Webhooks end to end on a real server: each event comes from the real change (SCIM, the
 * privileges API, a roster sync's emit call), is signed per Standard Webhooks and verified by the
 * receiver, retried on failure, dead-lettered after the (short, test) schedule, and replayable.
 */
let server: TestServer;
const receivers: WebhookReceiver[] = [];
beforeAll(async () => {
  server = await startTestServer({
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_RETRY_SCHEDULE: '0.3,0.3',
    WEBHOOK_TIMEOUT_MS: '2000',
    JOBS_POLL_INTERVAL_MS: '500',
  });
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await server?.close();
});

/** A new tenant with an endpoint for `types` pointing at a new receiver. */
async function school(types: string[]) {
  const seeded = await seedTenant(server.store);
  const api = apiClient(server, seeded.adminToken);
  const receiver = await startWebhookReceiver();
  receivers.push(receiver);
  const created = await api.post('/webhooks/endpoints', { url: receiver.url, eventTypes: types });
  expect(created.status).toBe(201);
  receiver.secret = created.body.secret;
  return { ...seeded, api, receiver, endpoint: created.body };
}

const ofType = (type: string) => (r: Received) => r.payload?.type === type;

/** Commits `roster.synced` for the tenant as a roster sync's apply would: no course, and zero counts unless given. */
const SYNCED_ZERO = { courseId: null, added: 0, updated: 0, ended: 0, errors: 0 };
function rosterSynced(tenantId: string, report: Pick<RosterSyncedData, 'source'> & Partial<RosterSyncedData>) {
  const data = { ...SYNCED_ZERO, ...report };
  return inTransaction(server.store, (t) => emitRosterSynced(server.store, t, tenantId, data));
}
const sql = () => sqlOn(server.store);

async function deliveriesSettled(api: ReturnType<typeof apiClient>, n: number, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const list = await api.get('/webhooks/deliveries');
    const done = list.body.deliveries.filter((d: any) => ['succeeded', 'dead', 'cancelled'].includes(d.status));
    if (done.length >= n) return list.body.deliveries;
    if (Date.now() > until) throw new Error(`deliveries not settled: ${JSON.stringify(list.body.deliveries)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe(`webhook endpoints on ${backendName}`, () => {
  it('registers an endpoint with a secret shown once, lists it without the secret, and deletes it', async () => {
    const { api, endpoint } = await school(['person.provisioned']);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const list = await api.get('/webhooks/endpoints');
    expect(list.body.endpoints).toEqual([
      {
        id: endpoint.id,
        url: endpoint.url,
        eventTypes: ['person.provisioned'],
        description: null,
        createdAt: endpoint.createdAt,
        enabled: true,
        disabledAt: null,
        disabledReason: null,
      },
    ]);
    expect(JSON.stringify(list.body)).not.toContain('whsec_');
    const [stored] = await sql()<{ secret: unknown }>('SELECT secret FROM webhook_endpoints WHERE id = $1', [
      endpoint.id,
    ]);
    expect(JSON.stringify(stored.secret)).toContain(endpoint.secret.slice(6)); // unsealed without TOOL_KEY_SECRET
    expect((await api.del(`/webhooks/endpoints/${endpoint.id}`)).status).toBe(204);
    expect((await api.get(`/webhooks/endpoints/${endpoint.id}`)).status).toBe(404);
    expect((await api.get('/webhooks/endpoints')).body.endpoints).toEqual([]);
    const audit = await sql()<{ action: string }>(`SELECT action FROM audit_events WHERE target_id = $1 ORDER BY id`, [
      endpoint.id,
    ]);
    expect(audit.map((a) => a.action)).toEqual(['webhook_endpoint.create', 'webhook_endpoint.delete']);
  });

  it('refuses unknown event types and bad URLs with problem JSON, and hides other tenants’ endpoints', async () => {
    const { api, endpoint } = await school(['person.provisioned']);
    const bad = await api.post('/webhooks/endpoints', { url: 'http://127.0.0.1:9/x', eventTypes: ['person.exploded'] });
    expect(bad.status).toBe(400);
    const ftp = await api.post('/webhooks/endpoints', { url: 'ftp://example.org/x', eventTypes: ['person.realized'] });
    expect(ftp.status).toBe(400);
    expect(ftp.body.detail).toMatch(/http/);
    const other = await school(['person.provisioned']);
    expect((await other.api.get(`/webhooks/endpoints/${endpoint.id}`)).status).toBe(404);
    expect((await other.api.del(`/webhooks/endpoints/${endpoint.id}`)).status).toBe(404);
  });
});

describe(`events from the real changes on ${backendName}`, () => {
  it('SCIM create sends person.provisioned; deactivate and delete send person.deprovisioned; all signed', async () => {
    const s = await school(['person.provisioned', 'person.deprovisioned']);
    const created = await scim(server, s.scimToken, 'POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'grace@school.example',
      externalId: 'G-1',
      emails: [{ value: 'grace@school.example', primary: true }],
    });
    const [provisioned] = await s.receiver.waitFor(ofType('person.provisioned'));
    expect(provisioned.verified).toBe(true);
    expect(provisioned.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(provisioned.payload!.data.person).toMatchObject({
      id: created.id,
      userName: 'grace@school.example',
      externalId: 'G-1',
      status: 'provisioned',
      source: 'scim',
    });

    await scimSetActive(server, s.scimToken, created.id, false);
    const [deactivated] = await s.receiver.waitFor(ofType('person.deprovisioned'));
    expect(deactivated.verified).toBe(true);
    expect(deactivated.payload!.data).toMatchObject({ reason: 'deactivated', person: { id: created.id } });

    await scim(server, s.scimToken, 'DELETE', `/Users/${created.id}`, undefined);
    const both = await s.receiver.waitFor(ofType('person.deprovisioned'), 2);
    expect(both[1].payload!.data).toMatchObject({
      reason: 'deleted',
      person: { id: created.id, status: 'deprovisioned' },
    });
    expect(s.receiver.received.every((r) => r.verified)).toBe(true);
  });

  it('a grant on the privileges API sends privileges.changed with before and after', async () => {
    const s = await school(['privileges.changed']);
    const course = await s.api.post('/courses', { title: 'Chemistry', externalKey: 'SIS-CHEM' });
    const put = await s.api.put(`/courses/${course.body.id}/privileges/${enc('email:ada@school.example')}`, {
      allow: ['grades.edit'],
    });
    expect(put.status).toBe(201);
    const [changed] = await s.receiver.waitFor(ofType('privileges.changed'));
    expect(changed.verified).toBe(true);
    expect(changed.payload!.data).toMatchObject({
      subjectType: 'person',
      after: { courseId: course.body.id, personId: put.body.person.id, allow: ['grades.edit'], deny: [] },
    });
  });

  it('deprovisioning a person over SCIM revokes their grants and sends privileges.changed for it', async () => {
    const s = await school(['privileges.changed']);
    const course = await s.api.post('/courses', { title: 'Physics', externalKey: 'SIS-PHYS' });
    const created = await scim(server, s.scimToken, 'POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'lise@school.example',
    });
    expect(
      (await s.api.put(`/courses/${course.body.id}/privileges/${created.id}`, { allow: ['grades.view'] })).status,
    ).toBe(200);
    await s.receiver.waitFor(ofType('privileges.changed'));
    await scim(server, s.scimToken, 'DELETE', `/Users/${created.id}`, undefined);
    const [, revoked] = await s.receiver.waitFor(ofType('privileges.changed'), 2);
    expect(revoked.verified).toBe(true);
    expect(revoked.payload!.data).toMatchObject({
      before: { courseId: course.body.id, personId: created.id, allow: ['grades.view'] },
      after: { courseId: course.body.id, personId: created.id, allow: [], deny: [] },
    });
  });

  it('roster.synced is sent when a roster sync emits it in its transaction', async () => {
    const s = await school(['roster.synced']);
    await rosterSynced(s.tenant.id, { source: 'nrps', added: 3, updated: 1 });
    const [synced] = await s.receiver.waitFor(ofType('roster.synced'));
    expect(synced.verified).toBe(true);
    expect(synced.payload!.data).toEqual({ source: 'nrps', courseId: null, added: 3, updated: 1, ended: 0, errors: 0 });
  });

  it('a rolled-back change writes no event and sends nothing; the next committed one is sent', async () => {
    const s = await school(['person.provisioned']);
    const person = (userName: string) => ({
      tenantId: s.tenant.id,
      status: 'provisioned' as const,
      source: 'scim' as const,
      userName,
      active: true,
    });
    await expect(
      inTransaction(server.store, async (t) => {
        await insertPerson(server.store, t, { actor: 'test' }, person('rolled-back@school.example'));
        throw new Error('the change fails after the person row was written');
      }),
    ).rejects.toThrow('the change fails');
    await inTransaction(server.store, (t) =>
      insertPerson(server.store, t, { actor: 'test' }, person('committed@school.example')),
    );
    const [sent] = await s.receiver.waitFor(ofType('person.provisioned'));
    expect(sent.payload!.data.person.userName).toBe('committed@school.example');
    await new Promise((r) => setTimeout(r, 1000));
    expect(s.receiver.received).toHaveLength(1);
    const events = await sql()<{ data: any }>('SELECT data FROM webhook_events WHERE tenant_id = $1', [s.tenant.id]);
    expect(events.map((e) => e.data.person.userName)).toEqual(['committed@school.example']);
  });
});

describe(`delivery, retries, dead letter and replay on ${backendName}`, () => {
  it('retries a delivery answered 500 until it succeeds, and logs every attempt', async () => {
    const s = await school(['roster.synced']);
    s.receiver.script = [500, 503];
    await rosterSynced(s.tenant.id, { source: 'oneroster-csv', added: 1 });
    const hits = await s.receiver.waitFor(ofType('roster.synced'), 3);
    expect(hits.map((h) => h.answered)).toEqual([500, 503, 200]);
    expect(hits.every((h) => h.verified)).toBe(true);
    expect(new Set(hits.map((h) => h.headers['webhook-id'])).size).toBe(1); // the same message, retried
    const [d] = await deliveriesSettled(s.api, 1);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200, lastError: null });
    const detail = await s.api.get(`/webhooks/deliveries/${d.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.attemptLog.map((a: any) => a.statusCode)).toEqual([500, 503, 200]);
    expect(detail.body.event).toMatchObject({ type: 'roster.synced', data: { source: 'oneroster-csv' } });
  });

  it('dead-letters after the last wait of the schedule; a replay delivers the same message again', async () => {
    const s = await school(['roster.synced']);
    s.receiver.otherwise = 500;
    await rosterSynced(s.tenant.id, { source: 'nrps', ended: 2 });
    const [dead] = await deliveriesSettled(s.api, 1);
    // Schedule "0.3,0.3": the first attempt and one per wait, then dead.
    expect(dead).toMatchObject({
      status: 'dead',
      attempts: 3,
      lastStatusCode: 500,
      lastError: 'HTTP 500',
      nextAttemptAt: null,
    });
    expect(s.receiver.received).toHaveLength(3);
    expect((await s.api.get('/webhooks/deliveries?status=dead')).body.deliveries.map((d: any) => d.id)).toEqual([
      dead.id,
    ]);

    s.receiver.otherwise = 200;
    const replay = await s.api.post(`/webhooks/deliveries/${dead.id}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ replayOf: dead.id, eventId: dead.eventId, status: 'pending' });
    const hits = await s.receiver.waitFor(ofType('roster.synced'), 4);
    expect(hits[3]).toMatchObject({ answered: 200, verified: true });
    expect(hits[3].headers['webhook-id']).toBe(dead.eventId);
    const settled = await deliveriesSettled(s.api, 2);
    expect(settled.find((d: any) => d.id === replay.body.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
    const other = await school(['roster.synced']);
    expect((await other.api.post(`/webhooks/deliveries/${dead.id}/replay`)).status).toBe(404);
    expect((await other.api.get(`/webhooks/deliveries/${dead.id}`)).status).toBe(404);
  });

  it('an endpoint deleted while a delivery waits cancels it, and sends nothing more', async () => {
    const s = await school(['roster.synced']);
    s.receiver.otherwise = 500;
    await rosterSynced(s.tenant.id, { source: 'nrps', errors: 1 });
    await s.receiver.waitFor(ofType('roster.synced'));
    expect((await s.api.del(`/webhooks/endpoints/${s.endpoint.id}`)).status).toBe(204);
    const [d] = await deliveriesSettled(s.api, 1);
    expect(d.status).toBe('cancelled');
    const count = s.receiver.received.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(s.receiver.received).toHaveLength(count);
  });
});

describe(`an endpoint that answers 410 Gone on ${backendName}`, () => {
  it('is disabled (when and why, audited, shown by GET and the list); that delivery is not retried, and no new ones are made', async () => {
    const s = await school(['roster.synced']);
    s.receiver.script = [410];
    await rosterSynced(s.tenant.id, { source: 'nrps' });
    const [gone] = await deliveriesSettled(s.api, 1);
    expect(gone).toMatchObject({
      status: 'dead',
      attempts: 1,
      lastStatusCode: 410,
      lastError: 'HTTP 410 Gone: the endpoint is disabled',
      nextAttemptAt: null,
    });
    const shown = await s.api.get(`/webhooks/endpoints/${s.endpoint.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id: s.endpoint.id, enabled: false, disabledAt: expect.any(String) });
    expect(shown.body.disabledReason).toBe(`the endpoint answered 410 Gone (delivery ${gone.id})`);
    expect(shown.body.disabledAt).toBe(gone.finishedAt);
    expect((await s.api.get('/webhooks/endpoints')).body.endpoints).toEqual([shown.body]);
    const audit = await sql()<{ actor: string; action: string; after: any }>(
      `SELECT actor, action, after FROM audit_events WHERE target_id = $1 ORDER BY id`,
      [s.endpoint.id],
    );
    expect(audit.map((a) => [a.actor, a.action])).toEqual([
      [expect.any(String), 'webhook_endpoint.create'],
      ['system:webhooks', 'webhook_endpoint.disable'],
    ]);
    expect(audit[1].after).toMatchObject({ enabled: false, disabledReason: shown.body.disabledReason });

    await rosterSynced(s.tenant.id, { source: 'nrps', added: 1 });
    await new Promise((r) => setTimeout(r, 1000)); // past the 0.3 s retry wait
    expect(s.receiver.received).toHaveLength(1);
    expect((await s.api.get('/webhooks/deliveries')).body.deliveries).toHaveLength(1);
  });

  it("cancels the endpoint's other deliveries not yet made, and sends them no more", async () => {
    const s = await school(['roster.synced']);
    s.receiver.script = [410];
    s.receiver.otherwise = 500;
    // Two events at once: whichever arrives first is answered 410, the other is never delivered.
    await inTransaction(server.store, async (t) => {
      for (const added of [1, 2])
        await emitRosterSynced(server.store, t, s.tenant.id, { ...SYNCED_ZERO, source: 'nrps', added });
    });
    const settled = await deliveriesSettled(s.api, 2);
    expect(settled.map((d: any) => d.status).sort()).toEqual(['cancelled', 'dead']);
    const count = s.receiver.received.length;
    expect(count).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1000));
    expect(s.receiver.received).toHaveLength(count);
  });

  it('is enabled again with PATCH {enabled: true}: new events are delivered, and the gone one can be replayed', async () => {
    const s = await school(['roster.synced']);
    s.receiver.script = [410];
    await rosterSynced(s.tenant.id, { source: 'nrps' });
    const [gone] = await deliveriesSettled(s.api, 1);
    const refused = await s.api.post(`/webhooks/deliveries/${gone.id}/replay`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/disabled/);

    const other = await school(['roster.synced']);
    expect((await other.api.call('PATCH', `/webhooks/endpoints/${s.endpoint.id}`, { enabled: true })).status).toBe(404);
    expect((await s.api.call('PATCH', `/webhooks/endpoints/${s.endpoint.id}`, { enabled: 'yes' })).status).toBe(400);
    expect((await s.api.call('PATCH', `/webhooks/endpoints/${s.endpoint.id}`, { url: 'http://x' })).status).toBe(400);

    const enabled = await s.api.call('PATCH', `/webhooks/endpoints/${s.endpoint.id}`, { enabled: true });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ id: s.endpoint.id, enabled: true, disabledAt: null, disabledReason: null });
    const audit = await sql()<{ action: string }>(`SELECT action FROM audit_events WHERE target_id = $1 ORDER BY id`, [
      s.endpoint.id,
    ]);
    expect(audit.map((a) => a.action)).toEqual([
      'webhook_endpoint.create',
      'webhook_endpoint.disable',
      'webhook_endpoint.enable',
    ]);

    await rosterSynced(s.tenant.id, { source: 'nrps', added: 5 });
    const [, fresh] = await s.receiver.waitFor(ofType('roster.synced'), 2);
    expect(fresh).toMatchObject({ answered: 200, verified: true });
    expect(fresh.payload!.data.added).toBe(5);
    const replay = await s.api.post(`/webhooks/deliveries/${gone.id}/replay`);
    expect(replay.status).toBe(202);
    await s.receiver.waitFor(ofType('roster.synced'), 3);
    const settled = await deliveriesSettled(s.api, 3);
    expect(settled.filter((d: any) => d.status === 'succeeded')).toHaveLength(2);
  });

  it('can be disabled by an admin with PATCH {enabled: false}: a delivery waiting for a retry is cancelled', async () => {
    const s = await school(['roster.synced']);
    s.receiver.otherwise = 500;
    await rosterSynced(s.tenant.id, { source: 'nrps' });
    await s.receiver.waitFor(ofType('roster.synced'));
    const disabled = await s.api.call('PATCH', `/webhooks/endpoints/${s.endpoint.id}`, { enabled: false });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ enabled: false, disabledReason: 'disabled by an administrator' });
    const [d] = await deliveriesSettled(s.api, 1);
    expect(d.status).toBe('cancelled');
    const count = s.receiver.received.length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(s.receiver.received).toHaveLength(count);
    // Asking again for the state it is in changes nothing and audits nothing.
    expect((await s.api.call('PATCH', `/webhooks/endpoints/${s.endpoint.id}`, { enabled: false })).body).toEqual(
      disabled.body,
    );
    const audit = await sql()<{ action: string }>(`SELECT action FROM audit_events WHERE target_id = $1 ORDER BY id`, [
      s.endpoint.id,
    ]);
    expect(audit.map((a) => a.action)).toEqual(['webhook_endpoint.create', 'webhook_endpoint.disable']);
  });
});

describe(`an endpoint whose signing secret this server cannot open, on ${backendName}`, () => {
  it('dead-letters the delivery at once with the reason and sends nothing unsigned', async () => {
    const s = await school(['roster.synced']);
    // As if TOOL_KEY_SECRET had been replaced without keeping the key that sealed this secret.
    const foreign = createKeySealer([randomBytes(32)]).seal({ kty: 'oct', k: 'whsec_lost' });
    await server.store.models.WebhookEndpoint.update({ secret: foreign }, { where: { id: s.endpoint.id } });
    await rosterSynced(s.tenant.id, { source: 'nrps' });
    const [dead] = await deliveriesSettled(s.api, 1);
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, lastStatusCode: null, nextAttemptAt: null });
    expect(dead.lastError).toMatch(/signing secret cannot be opened with this server's sealing key/);
    expect(s.receiver.received).toHaveLength(0);
  });
});
