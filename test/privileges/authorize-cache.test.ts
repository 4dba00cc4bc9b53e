import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { Outbox } from '../../src/domain/outbox.js';
import { insertPerson } from '../../src/domain/people.js';
import { revokeToken } from '../../src/domain/tokens.js';
import { createToken } from '../../src/domain/tokens.js';
import { onPostgres } from '../support/db.js';
import { seedTenant } from '../support/server.js';
import { apiClient, enc, privilegesHarness, scimGroup, scimSetActive, scimUser, sqlOn } from './helpers.js';

/**
 * The authorization cache answers from memory and forgets on writes: the API's own writes, other
 * code in this process (SCIM, LTI), token revocation, and — on PostgreSQL — other processes, via
 * triggers and LISTEN/NOTIFY. Also: invitation mail really goes out over SMTP when SMTP_URL is set.
 */
let h: Awaited<ReturnType<typeof privilegesHarness>>;
let courseId: string;
let personId: string;
const sql = <T = any>(q: string, bind: unknown[] = []) => sqlOn(h.server.store)<T>(q, bind);

beforeAll(async () => {
  h = await privilegesHarness();
  courseId = (await h.api.post('/courses', { title: 'Cache 101' })).body.id;
  personId = (
    await inTransaction(h.server.store, (t) =>
      insertPerson(
        h.server.store,
        t,
        { actor: 'test' },
        { tenantId: h.tenant.id, status: 'active', source: 'scim', userName: 'cached' },
      ),
    )
  ).id;
  // Fixture: they have signed in before, so lifting a suspension makes them active again.
  await sql('UPDATE people SET first_launch_at = now() WHERE id = $1 RETURNING 1', [personId]);
  await h.api.put(`/courses/${courseId}/privileges/${personId}`, { allow: ['grades.view'] });
});
afterAll(() => h?.close());

const BACKGROUND = /\b(outbox|webhook_deliveries|pgboss)\b/;
const allowed = async () =>
  (await h.api.post('/authorize', { course: courseId, person: personId, privilege: 'grades.view' })).body.allowed;

describe('the authorization cache', () => {
  it('answers repeated checks without querying the database', async () => {
    let queries = 0;
    h.server.store.sequelize.addHook('afterQuery', 'count', (_o, q) => {
      if (!BACKGROUND.test((q as unknown as { sql?: string }).sql ?? '')) queries++;
    });
    try {
      // On PostgreSQL the cache is trusted only once its LISTEN connection is up: wait for that.
      await expect
        .poll(
          async () => {
            queries = 0;
            await allowed();
            await allowed();
            return queries;
          },
          { timeout: 5000 },
        )
        .toBe(0);
      queries = 0;
      for (let i = 0; i < 20; i++) expect(await allowed()).toBe(true);
      expect(queries).toBe(0);
    } finally {
      h.server.store.sequelize.removeHook('afterQuery', 'count');
    }
  });

  it('forgets on writes by other code in this process (the IdP deactivates the person over SCIM)', async () => {
    expect(await allowed()).toBe(true);
    await scimSetActive(h.server, h.scimToken, personId, false);
    expect(await allowed()).toBe(false);
    await scimSetActive(h.server, h.scimToken, personId, true);
    expect(await allowed()).toBe(true);
  });

  it("keeps a school's cached decisions when another school changes", async () => {
    const other = await seedTenant(h.server.store);
    const otherApi = apiClient(h.server, other.adminToken);
    const otherCourse = (await otherApi.post('/courses', { title: 'Elsewhere 101' })).body.id;
    expect(await allowed()).toBe(true); // warm this school's entry
    let queries = 0;
    // Background work is not part of an answer: the invitation mailer polling the outbox, and the
    // webhook dispatcher looking for deliveries after a write (and its job queue).
    h.server.store.sequelize.addHook('afterQuery', 'count-other', (_o, q) => {
      if (!BACKGROUND.test((q as unknown as { sql?: string }).sql ?? '')) queries++;
    });
    try {
      queries = 0;
      await allowed();
      expect(queries).toBe(0);
      // Writes in the other school: a course, a person, a grant.
      expect((await otherApi.call('PATCH', `/courses/${otherCourse}`, { title: 'Elsewhere 102' })).status).toBe(200);
      const grant = await otherApi.put(`/courses/${otherCourse}/privileges/${enc('email:someone@elsewhere.example')}`, {
        allow: ['grades.view'],
      });
      expect(grant.status).toBe(201); // a placeholder person was created for the email
      queries = 0;
      await allowed();
      expect(queries).toBe(0);
    } finally {
      h.server.store.sequelize.removeHook('afterQuery', 'count-other');
    }
  });

  it("keeps this person's cached decision when the IdP writes someone else in the same school, and forgets it on a group change", async () => {
    expect(await allowed()).toBe(true); // warm
    let queries = 0;
    h.server.store.sequelize.addHook('afterQuery', 'count-same', (_o, q) => {
      if (!BACKGROUND.test((q as unknown as { sql?: string }).sql ?? '')) queries++;
    });
    try {
      // SCIM creates another person and changes their status: their own decisions only.
      const other = await scimUser(h.server, h.scimToken, 'neighbour@school.example');
      await scimSetActive(h.server, h.scimToken, other, false);
      // On PostgreSQL the triggers' "tenant person" notifications arrive asynchronously: let them land.
      await new Promise((r) => setTimeout(r, 100));
      queries = 0;
      expect(await allowed()).toBe(true);
      expect(queries).toBe(0);
      // A group can hold anyone (nested groups too): a group write forgets the whole school.
      await scimGroup(h.server, h.scimToken, 'Everyone cached', [{ value: other, type: 'User' }]);
      queries = 0;
      expect(await allowed()).toBe(true);
      expect(queries).toBeGreaterThan(0);
    } finally {
      h.server.store.sequelize.removeHook('afterQuery', 'count-same');
    }
  });

  it('forgets a revoked admin token at once', async () => {
    const { token, view } = await createToken(
      h.server.store,
      { actor: 'test' },
      { tenantId: h.tenant.id, kind: 'admin' },
    );
    const api = apiClient(h.server, token);
    expect(
      (await api.post('/authorize', { course: courseId, person: personId, privilege: 'grades.view' })).status,
    ).toBe(200);
    await revokeToken(h.server.store, { actor: 'test' }, h.tenant.id, view.id);
    expect(
      (await api.post('/authorize', { course: courseId, person: personId, privilege: 'grades.view' })).status,
    ).toBe(401);
  });

  it('never serves an expired admin token from memory', async () => {
    const { token } = await createToken(
      h.server.store,
      { actor: 'test' },
      { tenantId: h.tenant.id, kind: 'admin', expiresAt: new Date(Date.now() + 1500) },
    );
    const api = apiClient(h.server, token);
    expect((await api.get('/privileges')).status).toBe(200);
    expect((await api.get('/privileges')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await api.get('/privileges')).status).toBe(401);
  });

  it.skipIf(!onPostgres)('forgets on writes by another process (NOTIFY from triggers)', async () => {
    const other = new pg.Client({ connectionString: h.server.config.databaseUrl });
    await other.connect();
    try {
      expect(await allowed()).toBe(true);
      await other.query(
        `UPDATE privilege_grants SET effect = 'deny' WHERE person_id = $1 AND privilege = 'grades.view'`,
        [personId],
      );
      await expect.poll(allowed, { timeout: 2000, interval: 20 }).toBe(false);
      await other.query(
        `UPDATE privilege_grants SET effect = 'allow' WHERE person_id = $1 AND privilege = 'grades.view'`,
        [personId],
      );
      await expect.poll(allowed, { timeout: 2000, interval: 20 }).toBe(true);
      await other.query(`UPDATE people SET status = 'deprovisioned', active = false WHERE id = $1`, [personId]);
      await expect.poll(allowed, { timeout: 2000, interval: 20 }).toBe(false);
      await other.query(`UPDATE people SET status = 'active', active = true WHERE id = $1`, [personId]);
      await expect.poll(allowed, { timeout: 2000, interval: 20 }).toBe(true);
      const { token, view } = await createToken(
        h.server.store,
        { actor: 'test' },
        { tenantId: h.tenant.id, kind: 'admin' },
      );
      const api = apiClient(h.server, token);
      expect((await api.get('/privileges')).status).toBe(200);
      await other.query(`UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, [view.id]);
      await expect.poll(async () => (await api.get('/privileges')).status, { timeout: 2000, interval: 20 }).toBe(401);
    } finally {
      await other.end();
    }
  });
});

describe('invitation mail over SMTP', () => {
  let smtp: Server;
  const received: string[] = [];
  beforeAll(async () => {
    // A minimal SMTP peer: the true edge of the system.
    smtp = createServer((socket) => {
      let data = false;
      let message = '';
      socket.write('220 test ESMTP\r\n');
      socket.on('data', (chunk) => {
        for (const line of chunk.toString('utf8').split(/(?<=\r\n)/)) {
          if (data) {
            message += line;
            if (message.endsWith('\r\n.\r\n')) {
              data = false;
              received.push(message);
              socket.write('250 queued\r\n');
            }
          } else if (/^(EHLO|HELO)/i.test(line)) socket.write('250 test\r\n');
          else if (/^DATA/i.test(line)) {
            data = true;
            message = '';
            socket.write('354 go ahead\r\n');
          } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
          else if (line.trim()) socket.write('250 ok\r\n');
        }
      });
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => smtp.close(() => r())));

  it('sends queued invitations and marks them sent', async () => {
    const r = await h.api.put(`/courses/${courseId}/privileges/${enc('email:mailme@school.example')}`, {
      allow: ['course.view'],
    });
    expect(r.status).toBe(201);
    const port = (smtp.address() as { port: number }).port;
    const outbox = new Outbox(h.server.store, {
      smtpUrl: `smtp://127.0.0.1:${port}`,
      from: 'Rosterbridge <no-reply@school.example>',
    });
    // The server itself has no SMTP_URL: it logs the mail (kept, status logged). Queue it again to send it for real.
    await expect
      .poll(async () => (await sql(`SELECT status FROM outbox WHERE recipient = 'mailme@school.example'`))[0]?.status)
      .toBe('logged');
    await sql(`UPDATE outbox SET status = 'queued' WHERE recipient = 'mailme@school.example' RETURNING 1`);
    expect(await outbox.drain()).toBeGreaterThanOrEqual(1);
    const decoded = received.map((m) => m.replace(/=\r\n/g, '').replace(/=3D/g, '='));
    expect(
      decoded.some((m) => /^To: mailme@school\.example/m.test(m) && m.includes('/app/welcome?invitation=rbi_')),
    ).toBe(true);
    expect(await sql(`SELECT status FROM outbox WHERE recipient = 'mailme@school.example'`)).toEqual([
      { status: 'sent' },
    ]);
  });
});
