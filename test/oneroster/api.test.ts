import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../src/db/store.js';
import { dueOneRosterPulls, setOneRosterConnection, syncOneRosterApi } from '../../src/domain/oneroster/connections.js';
import { SecretUnreadableError } from '../../src/errors.js';
import { ONEROSTER_PULL_TASK, ONEROSTER_SCHEDULE_TASK } from '../../src/jobs/service.js';
import { backendName } from '../support/db.js';
import { startOneRosterApi, type OneRosterApiEmulator } from '../support/oneroster-api.js';
import { SAMPLE_USERS, sampleBundle, sampleFiles, zipBundle } from '../support/oneroster-bundle.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';
import { apiClient, sqlOn } from '../privileges/helpers.js';

/**
 * OneRoster on the admin API: a bundle uploaded as application/zip or multipart, refused bundles
 * as problem JSON with the line report, and the REST pull from a OneRoster 1.2 API (the emulator
 * in test/support) with limit/offset paging, retries, and the same mapping as a CSV bundle.
 */
let server: TestServer;
let emulator: OneRosterApiEmulator;
beforeAll(async () => {
  // The emulator listens on 127.0.0.1 (test/oneroster/targets.test.ts: refused without this).
  server = await startTestServer({ ONEROSTER_ALLOW_PRIVATE_TARGETS: 'true' });
  emulator = await startOneRosterApi();
});
afterAll(async () => {
  await emulator?.close();
  await server?.close();
});

/** The emulator's address and client credentials, as a school admin enters them for the connection. */
const emulatorConnection = (more: Record<string, unknown> = {}) => ({
  baseUrl: emulator.baseUrl,
  tokenUrl: emulator.tokenUrl,
  clientId: emulator.clientId,
  clientSecret: emulator.clientSecret,
  ...more,
});

async function upload(token: string, body: Buffer | FormData | string, contentType?: string, query = '') {
  const res = await fetch(`${server.url}/api/v1/oneroster/imports${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...(contentType ? { 'content-type': contentType } : {}) },
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : body,
  });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
}

describe(`OneRoster on the admin API on ${backendName}`, () => {
  it('imports an uploaded zip (application/zip), and the same bundle again changes nothing', async () => {
    const { tenant, adminToken } = await seedTenant(server.store);
    const zip = await sampleBundle('1.2');
    const dry = await upload(adminToken, zip, 'application/zip', '?dryRun=true');
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, applied: false, summary: { people: { created: 6 } } });
    const first = await upload(adminToken, zip, 'application/zip');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ applied: true, version: '1.2', ignored: ['demographics.csv'] });
    expect(first.body.summary.memberships.added).toBe(8);
    const again = await upload(adminToken, zip, 'application/zip');
    expect(again.body.summary.changes).toBe(0);
    const sql = sqlOn(server.store);
    expect(await sql('SELECT count(*)::int AS n FROM people WHERE tenant_id = $1', [tenant.id])).toEqual([{ n: 6 }]);
    const list = await apiClient(server, adminToken).get('/oneroster/imports');
    expect(list.body.imports).toHaveLength(2);
  });

  it('takes a multipart form with the zip in "bundle"', async () => {
    const { adminToken } = await seedTenant(server.store);
    const form = new FormData();
    form.set(
      'bundle',
      new Blob([new Uint8Array(await sampleBundle('1.1'))], { type: 'application/zip' }),
      'roster.zip',
    );
    const r = await upload(adminToken, form);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ applied: true, version: '1.1' });
  });

  it('answers problem JSON: a refused bundle with its line report, not a zip, a wrong content type, a SCIM token', async () => {
    const { tenant, adminToken, scimToken } = await seedTenant(server.store);
    const files = sampleFiles('1.1');
    files.enrollments.text += 'e99,,,class-1,school-1,nobody,student,false,,\n';
    const refused = await upload(adminToken, await zipBundle({ version: '1.1', files }), 'application/zip');
    expect(refused.status).toBe(400);
    expect(refused.type).toMatch(/application\/problem\+json/);
    expect(refused.body).toMatchObject({
      title: 'validation_failed',
      errorCount: 1,
      errors: [
        {
          file: 'enrollments.csv',
          line: 10,
          column: 'userSourcedId',
          message: 'no user "nobody" in users.csv or an earlier import',
        },
      ],
    });
    expect(
      await sqlOn(server.store)('SELECT count(*)::int AS n FROM people WHERE tenant_id = $1', [tenant.id]),
    ).toEqual([{ n: 0 }]);
    const notZip = await upload(adminToken, 'hello', 'application/zip');
    expect(notZip.status).toBe(400);
    expect(notZip.body.detail).toMatch(/not a readable zip/);
    const json = await upload(adminToken, '{}', 'application/json');
    expect(json.status).toBe(400);
    const scim = await upload(scimToken, await sampleBundle('1.2'), 'application/zip');
    expect([401, 403]).toContain(scim.status);
  });

  it('pulls a OneRoster 1.2 API page by page and maps it as a bundle would', async () => {
    const { tenant, adminToken } = await seedTenant(server.store);
    const api = apiClient(server, adminToken);
    const put = await api.put('/oneroster/connection', emulatorConnection({ pageSize: 2 }));
    expect(put.status).toBe(200);
    expect(put.body).not.toHaveProperty('clientSecret');
    emulator.requests.length = 0;
    const sync = await api.post('/oneroster/connection/sync');
    expect(sync.status).toBe(200);
    expect(sync.body).toMatchObject({ applied: true, summary: { people: { created: 6 }, courses: { created: 2 } } });
    expect(sync.body.summary.memberships.added).toBe(8);
    // 6 users in pages of 2: offsets 0, 2, 4 (the third page's X-Total-Count ends it)
    const userPages = emulator.requests.filter((r) => r.path.endsWith('/users')).map((r) => r.query.offset);
    expect(userPages).toEqual(['0', '2', '4']);
    expect(emulator.requests.filter((r) => r.path === '/oauth/token')).toHaveLength(1);
    const roles = await sqlOn(server.store)(
      `SELECT p.user_name, m.roles FROM course_memberships m JOIN people p ON p.id = m.person_id JOIN courses c ON c.id = m.course_id
        WHERE m.tenant_id = $1 AND c.external_key = 'class-1' ORDER BY 1`,
      [tenant.id],
    );
    expect(roles).toEqual([
      { user_name: 'asmith', roles: ['Learner'] },
      { user_name: 'bjones', roles: ['Learner'] },
      { user_name: 'csmith', roles: ['Mentor'] },
      { user_name: 'jlee', roles: ['Instructor'] },
      { user_name: 'rkim', roles: ['TeachingAssistant'] },
    ]);
    const again = await api.post('/oneroster/connection/sync');
    expect(again.body.summary.changes).toBe(0);
    const view = await api.get('/oneroster/connection');
    expect(view.body).toMatchObject({ clientId: emulator.clientId, lastResult: { applied: true } });
  });

  it('a later pull without a user deprovisions them (bulk semantics), and retries a 503 page', async () => {
    const { tenant } = await seedTenant(server.store);
    const { setOneRosterConnection } = await import('../../src/domain/oneroster/connections.js');
    await setOneRosterConnection(server.store, { actor: 'test' }, tenant.id, emulatorConnection({ pageSize: 4 }), {
      allowPrivateTargets: true,
    });
    const noWait = { sleep: async () => {}, allowPrivateTargets: true };
    await syncOneRosterApi(server.store, noWait, tenant.id);
    const saved = emulator.data.users;
    const savedEnrollments = emulator.data.enrollments;
    try {
      emulator.setUsers(
        SAMPLE_USERS.filter((u) => u.id !== 's3'),
        [{ id: 'e1', classId: 'class-1', userId: 't1', role: 'teacher' }],
      );
      emulator.failNext(503, 2);
      const r = await syncOneRosterApi(server.store, noWait, tenant.id);
      expect(r.summary.people.deprovisioned).toBe(1);
      expect(r.summary.memberships.ended).toBe(7);
    } finally {
      emulator.data.users = saved;
      emulator.data.enrollments = savedEnrollments;
    }
  });

  it("pulls on the tenant's schedule through the job queue, and not again before the interval", async () => {
    const { tenant, adminToken } = await seedTenant(server.store);
    const api = apiClient(server, adminToken);
    const put = await api.put('/oneroster/connection', emulatorConnection({ syncEveryMinutes: 60 }));
    expect(put.body).toMatchObject({ syncEveryMinutes: 60, lastSyncAt: null });
    expect(await dueOneRosterPulls(server.store)).toContain(tenant.id);
    // The minute tick, run now instead of waiting for the cron: it queues the due pull, which runs.
    const queue = await server.server.jobs;
    await queue.addJob(ONEROSTER_SCHEDULE_TASK, {});
    await expect
      .poll(async () => (await api.get('/oneroster/connection')).body.lastResult?.applied ?? null, {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(true);
    const people = await sqlOn(server.store)('SELECT count(*)::int AS n FROM people WHERE tenant_id = $1', [tenant.id]);
    expect(people[0].n).toBeGreaterThan(0);
    expect(await dueOneRosterPulls(server.store)).not.toContain(tenant.id);
    const bad = await api.put('/oneroster/connection', emulatorConnection({ syncEveryMinutes: 1 }));
    expect(bad.status).toBe(400);
  });

  it('a refused token is an upstream failure (502), nothing written, and the connection says so', async () => {
    const { tenant, adminToken } = await seedTenant(server.store);
    const api = apiClient(server, adminToken);
    await api.put('/oneroster/connection', emulatorConnection({ clientSecret: 'wrong' }));
    const r = await api.post('/oneroster/connection/sync');
    expect(r.status).toBe(502);
    expect(r.body.title).toBe('upstream_failed');
    expect(
      await sqlOn(server.store)('SELECT count(*)::int AS n FROM people WHERE tenant_id = $1', [tenant.id]),
    ).toEqual([{ n: 0 }]);
    const view = await api.get('/oneroster/connection');
    expect(view.body.lastResult).toMatchObject({ applied: false });
    const bad = await api.put('/oneroster/connection', {
      baseUrl: 'ftp://x',
      tokenUrl: emulator.tokenUrl,
      clientId: 'a',
      clientSecret: 'b',
    });
    expect(bad.status).toBe(400);
  });

  it('a client secret sealed with a key this server lacks is a 409 in words, recorded on the connection, also by the scheduled pull; entering it again mends it', async () => {
    const { tenant, adminToken } = await seedTenant(server.store);
    const api = apiClient(server, adminToken);
    const connection = {
      baseUrl: emulator.baseUrl,
      tokenUrl: emulator.tokenUrl,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
    };
    // Sealed under a key the operator has since rotated away or lost (this server has none).
    const sealedElsewhere = createStore(server.store.sequelize, { toolKeySecrets: [randomBytes(32)] });
    await setOneRosterConnection(sealedElsewhere, { actor: 'test' }, tenant.id, connection, {
      allowPrivateTargets: true,
    });
    const words =
      /OneRoster client secret cannot be opened with this server's sealing key.*enter the client secret again/;

    const r = await api.post('/oneroster/connection/sync');
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ title: 'secret_unreadable', status: 409 });
    expect(r.body.detail).toMatch(words);
    expect((await api.get('/oneroster/connection')).body.lastResult).toMatchObject({
      applied: false,
      failure: expect.stringMatching(words),
    });

    // Another key than the one that sealed it, through the domain function the CLI calls.
    const otherKey = createStore(server.store.sequelize, { toolKeySecrets: [randomBytes(32)] });
    await expect(syncOneRosterApi(otherKey, { allowPrivateTargets: true }, tenant.id)).rejects.toBeInstanceOf(
      SecretUnreadableError,
    );

    // The job records the same failure and ends: nothing a retry could open.
    await server.store.models.OneRosterConnection.update({ lastResult: null }, { where: { tenantId: tenant.id } });
    const queue = await server.server.jobs;
    const jobId = (await queue.addJob(ONEROSTER_PULL_TASK, { tenantId: tenant.id }, { jobKey: tenant.id }))!;
    await expect
      .poll(async () => (await queue.jobState(ONEROSTER_PULL_TASK, jobId))?.state, { timeout: 30_000, interval: 200 })
      .toBe('completed');
    expect((await api.get('/oneroster/connection')).body.lastResult).toMatchObject({
      applied: false,
      failure: expect.stringMatching(words),
    });
    expect(
      await sqlOn(server.store)('SELECT count(*)::int AS n FROM people WHERE tenant_id = $1', [tenant.id]),
    ).toEqual([{ n: 0 }]);

    expect((await api.put('/oneroster/connection', connection)).status).toBe(200);
    const mended = await api.post('/oneroster/connection/sync');
    expect(mended.status).toBe(200);
    expect(mended.body).toMatchObject({ applied: true });
  });
});
