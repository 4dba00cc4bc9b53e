import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { seedDemo, type DemoSeed } from '../../src/domain/dev-seed.js';
import { listMemberships } from '../../src/domain/memberships.js';
import { createLogger } from '../../src/logger.js';
import { createStore, type Store } from '../../src/db/store.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { freePort } from '../support/processes.js';
import { testDatabaseConfig } from '../support/db.js';
import { Browser } from '../support/platform-emulator.js';

/**
 * The logs of a full run at the most verbose level — a demo school seeded, SCIM pushes, admin API
 * calls with good and bad tokens, LTI launches through the stand-in LMS, sessions, invitation
 * mail, the operator API — hold no secret: no API token, operator token, session, id_token,
 * launch ticket, invitation link or private key.
 */
const OPERATOR_TOKEN = 'op_logscan_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const JWT = /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/;

let running: RunningServer;
let store: Store;
let cleanup: () => Promise<void>;
let seed: DemoSeed;
let url: string;
const lines: string[] = [];
const secrets = new Set<string>();

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const { createHash } = await import('node:crypto');
  const db = await testDatabaseConfig({
    PORT: String(port),
    PUBLIC_URL: url,
    DEMO_LMS: 'true',
    LOG_LEVEL: 'trace',
    OPERATOR_TOKEN_SHA256: createHash('sha256').update(OPERATOR_TOKEN).digest('hex'),
  });
  cleanup = db.cleanup;
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  running = await startServer(db.config, createLogger(loadConfig({ LOG_LEVEL: 'trace' }), sink), { persist: false });
  store = createStore(running.db.sequelize);
  seed = await seedDemo(store, { actor: 'test' }, { slug: 'logscan', publicUrl: url });
  secrets.add(seed.adminToken).add(seed.scimToken).add(OPERATOR_TOKEN);
}, 180_000);
afterAll(async () => {
  await running?.close();
  await cleanup?.();
});

const call = (path: string, token: string, init: RequestInit = {}) =>
  fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });

describe('logs of a full run', () => {
  it('hold no token, session, id_token, ticket, invitation link or key', async () => {
    // SCIM: create, patch, filter, a bad request
    const scimJson = { 'content-type': 'application/scim+json' };
    const user = (await (
      await call('/scim/v2/Users', seed.scimToken, {
        method: 'POST',
        headers: scimJson,
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: 'log.scan@example.edu',
        }),
      })
    ).json()) as { id: string };
    await call(`/scim/v2/Users/${user.id}`, seed.scimToken, {
      method: 'PATCH',
      headers: scimJson,
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
    });
    await call('/scim/v2/Users?filter=userName%20eq%20%22log.scan@example.edu%22', seed.scimToken);
    await call('/scim/v2/Users?filter=nonsense((', seed.scimToken);

    // Tokens that are wrong in every way, sent where they are checked
    const almost = `${seed.adminToken.slice(0, -4)}XXXX`;
    secrets.add(almost);
    for (const bad of [almost, seed.scimToken, 'rb_admin_short', OPERATOR_TOKEN]) await call('/api/v1/courses', bad);
    await call('/scim/v2/Users', seed.adminToken);
    await call('/operator/v1/tenants', OPERATOR_TOKEN);
    await call('/operator/v1/tenants', seed.adminToken);

    // Admin API: a grant that creates a placeholder and queues an invitation mail
    const course = seed.courses[0].course.id;
    await call(`/api/v1/courses/${course}/privileges/email:new.person@example.edu`, seed.adminToken, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ allow: ['grades.view'], deny: [] }),
    });
    const person = (await (await call('/api/v1/people/email:new.person@example.edu', seed.adminToken)).json()) as {
      id: string;
    };
    await call(`/api/v1/people/${person.id}/invitation`, seed.adminToken, { method: 'POST' });

    // LTI: launches through the stand-in LMS, the ticket redeemed for a session, the session used
    const teacher = (await listMemberships(store, seed.tenant.id, course)).find((m) => m.roles.includes('Instructor'))!;
    const browser = new Browser();
    const start = await browser.fetch(
      `${url}/dev/lms/launch?tenant=logscan&course=${course}&person=${teacher.personId}`,
    );
    const login = await browser.fetch(start.headers.get('location')!);
    const auth = await browser.fetch(login.headers.get('location')!);
    const authPage = await auth.text();
    secrets.add(/name="id_token" value="([^"]+)"/.exec(authPage)![1]);
    const launch = await browser.submitForm(authPage);
    expect(launch.status).toBe(303);
    const ticket = launch.headers.get('location')!.split('#lti_ticket=')[1];
    secrets.add(ticket);
    for (const v of browser.cookies.values()) if (v.length > 20) secrets.add(v);
    const session = (await (
      await fetch(`${url}/lti/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' },
        body: JSON.stringify({ ticket }),
      })
    ).json()) as { token: string };
    secrets.add(session.token);
    await call('/api/v1/me', session.token);
    await call(`/api/v1/courses/${course}/privileges`, session.token);
    await call('/api/v1/tenant', session.token); // refused: a session is no admin token
    await fetch(`${url}/lti/launch`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ id_token: [...secrets].find((s) => JWT.test(s))!, state: 'replayed' }),
    });

    // Invitation links are secrets too (the mail body is in the outbox table, not the log)
    await new Promise((r) => setTimeout(r, 500)); // the outbox drains after commit
    const mails = await store.models.OutboxMessage.findAll({ raw: true });
    for (const m of mails) {
      const link = /invitation=([\w-]+)/.exec(String(m.body))?.[1];
      if (link) secrets.add(link);
    }
    expect(mails.length).toBeGreaterThan(0);

    const keys = await store.models.ToolKey.findAll({ raw: true });
    for (const k of keys) for (const v of Object.values(k)) if (typeof v === 'string' && v.length > 40) secrets.add(v);

    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(25);
    expect(log).toContain('mail not sent'); // the invitation went through the logging path
    expect(log).toContain('"requestId"');
    const found = [...secrets].filter((s) => log.includes(s)).map((s) => `${s.slice(0, 12)}… (${s.length} chars)`);
    expect(found).toEqual([]);
    expect(log).not.toMatch(JWT);
    expect(log).not.toMatch(/PRIVATE KEY|"d":"/);
  }, 120_000);
});
