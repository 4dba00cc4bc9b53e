import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureActiveKey } from '../../lti/keys.js';
import { parseLinkHeader } from '../../lti/nrps.js';
import { createStore } from '../../src/db/store.js';
import { createKeySealer } from '../../src/domain/key-sealing.js';
import { syncCourseRoster } from '../../src/domain/roster-sync.js';
import { resealStoredSecrets } from '../../src/domain/tool-keys.js';
import { backendName, createTestDatabase, type TestDatabase } from '../support/db.js';
import { member, startNrpsPlatform, type NrpsPlatform } from '../support/nrps-platform.js';
import { courseWithRoster, rows, schoolWithPlatform, syncDeps, toolJwks } from './helpers.js';

/**
 * Platform faults: each is retried with backoff (bounded), then the sync fails with a clear error
 * recorded on it — and nothing of the roster is written, whichever page failed.
 */
let db: TestDatabase;
let nrps: NrpsPlatform;
beforeAll(async () => {
  db = await createTestDatabase();
  nrps = await startNrpsPlatform({ pageSize: 2 });
  nrps.trustTool(toolJwks(db.store));
});
afterAll(async () => {
  await nrps?.close();
  await db?.cleanup();
});

let ctxN = 0;
async function course() {
  const { tenant, platform } = await schoolWithPlatform(db.store, nrps);
  const contextId = `fault-${++ctxN}`;
  const courseId = await courseWithRoster(db.store, tenant.id, platform.id, contextId, nrps);
  nrps.setRoster(contextId, [member('m1'), member('m2'), member('m3')]);
  return { tenantId: tenant.id, courseId };
}

const written = async (tenantId: string) => {
  const [r] = await rows<{ people: number; memberships: number; links: number }>(
    db.store,
    `SELECT (SELECT count(*)::int FROM people WHERE tenant_id = $1) AS people,
            (SELECT count(*)::int FROM course_memberships WHERE tenant_id = $1) AS memberships,
            (SELECT count(*)::int FROM identity_links WHERE tenant_id = $1) AS links`,
    [tenantId],
  );
  return r;
};
const failedAudit = async (tenantId: string) =>
  rows<{ after: { error: string; fault: string } }>(
    db.store,
    `SELECT after FROM audit_events WHERE tenant_id = $1 AND action = 'roster.sync_failed'`,
    [tenantId],
  );

describe(`roster sync faults on ${backendName}`, () => {
  it('retries a refused token and succeeds once the platform issues one', async () => {
    const c = await course();
    nrps.inject('token', { status: 401, body: '{"error":"invalid_client"}' }, 2);
    const deps = syncDeps(db.store);
    const r = await syncCourseRoster(db.store, deps, c.tenantId, c.courseId);
    expect(r).toMatchObject({ status: 'succeeded', counts: { added: 3 } });
    expect(r.attempts).toBe(4); // two refusals, then two pages
    expect(deps.sleeps).toHaveLength(2);
    expect(deps.sleeps[1]).toBeGreaterThan(deps.sleeps[0]); // exponential
  });

  it('fails with the platform’s words when the token stays refused, and writes nothing', async () => {
    const c = await course();
    nrps.inject('token', { status: 400, body: '{"error":"invalid_client","error_description":"unknown key"}' }, 5);
    const r = await syncCourseRoster(db.store, syncDeps(db.store, { maxAttempts: 5 }), c.tenantId, c.courseId);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(
      /refused an access token \(HTTP 400, invalid_client: unknown key\); gave up after 5 attempts/,
    );
    expect(r.attempts).toBe(5);
    expect(await written(c.tenantId)).toEqual({ people: 0, memberships: 0, links: 0 });
    expect((await failedAudit(c.tenantId))[0].after).toMatchObject({ fault: 'token_refused' });
  });

  it('waits as long as Retry-After says on a 429, then goes on', async () => {
    const c = await course();
    nrps.inject('members', { status: 429, retryAfter: '1' });
    const deps = syncDeps(db.store);
    const r = await syncCourseRoster(db.store, deps, c.tenantId, c.courseId);
    expect(r.status).toBe('succeeded');
    expect(deps.sleeps[0]).toBe(1000);
  });

  it("treats Canvas's 403 Rate Limit Exceeded as throttling, not refusal", async () => {
    const c = await course();
    nrps.inject('members', { status: 403, body: '403 Forbidden (Rate Limit Exceeded)' });
    const r = await syncCourseRoster(db.store, syncDeps(db.store), c.tenantId, c.courseId);
    expect(r.status).toBe('succeeded');
  });

  it('gives up on a platform that keeps failing (5xx), bounded, and applies nothing of the pages it had', async () => {
    const c = await course();
    // Page 1 answers; page 2 fails every time.
    const deps = syncDeps(db.store, { maxAttempts: 3 });
    const realFetch = globalThis.fetch;
    let pages = 0;
    const r = await syncCourseRoster(
      db.store,
      {
        ...deps,
        fetchRoster: async (req) => {
          const wrapped = syncDeps(db.store, {
            maxAttempts: 3,
            fetch: async (input, init) => {
              const url = String(input);
              if (url.includes('/memberships') && ++pages > 1) nrps.inject('members', { status: 503 });
              return realFetch(input, init);
            },
          });
          return wrapped.fetchRoster(req);
        },
      },
      c.tenantId,
      c.courseId,
    );
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/failed to serve the roster \(HTTP 503\); gave up after 3 attempts/);
    expect(await written(c.tenantId)).toEqual({ people: 0, memberships: 0, links: 0 });
  });

  it('retries a request that times out', async () => {
    const c = await course();
    nrps.inject('members', { delayMs: 900 });
    const r = await syncCourseRoster(db.store, syncDeps(db.store, { timeoutMs: 300 }), c.tenantId, c.courseId);
    expect(r.status).toBe('succeeded');
    expect(r.attempts).toBe(3);
  });

  it('fails after bounded retries when every request times out', async () => {
    const c = await course();
    nrps.inject('members', { delayMs: 600 }, 2);
    const r = await syncCourseRoster(
      db.store,
      syncDeps(db.store, { timeoutMs: 200, maxAttempts: 2 }),
      c.tenantId,
      c.courseId,
    );
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/timed out/);
  });

  it.each(['not-json', 'no-members', 'bad-member'] as const)(
    'refuses a malformed page (%s) whole',
    async (malformed) => {
      const c = await course();
      nrps.inject('members', { malformed }, 3);
      const r = await syncCourseRoster(db.store, syncDeps(db.store, { maxAttempts: 3 }), c.tenantId, c.courseId);
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/not a membership container/);
      expect(await written(c.tenantId)).toEqual({ people: 0, memberships: 0, links: 0 });
      expect((await failedAudit(c.tenantId))[0].after.fault).toBe('malformed');
    },
  );

  it('takes a new token when the platform stops accepting the cached one (401)', async () => {
    const c = await course();
    const deps = syncDeps(db.store);
    expect((await syncCourseRoster(db.store, { ...deps, fullSyncEveryMs: 0 }, c.tenantId, c.courseId)).status).toBe(
      'succeeded',
    );
    nrps.revokeTokens();
    const r = await syncCourseRoster(db.store, { ...deps, fullSyncEveryMs: 0 }, c.tenantId, c.courseId);
    expect(r.status).toBe('succeeded');
    expect(deps.tokens.requests).toBe(2);
  });

  it('does not follow a next link to another origin (the token stays with the roster service)', async () => {
    const c = await course();
    const realFetch = globalThis.fetch;
    const r = await syncCourseRoster(
      db.store,
      syncDeps(db.store, {
        fetch: async (input, init) => {
          const res = await realFetch(input, init);
          const headers = new Headers(res.headers);
          headers.set('link', '<https://evil.example/steal>; rel="next"');
          return new Response(await res.text(), { status: res.status, headers });
        },
      }),
      c.tenantId,
      c.courseId,
    );
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/points away from the roster service/);
  });

  it("fails in words when the tool's key cannot be opened (TOOL_KEY_SECRET changed), and writes nothing", async () => {
    const c = await course();
    await ensureActiveKey(db.store);
    const before = randomBytes(32);
    await resealStoredSecrets(createStore(db.store.sequelize, { toolKeySecrets: [before] }));
    try {
      const now = createStore(db.store.sequelize, { toolKeySecrets: [randomBytes(32)] });
      const r = await syncCourseRoster(db.store, syncDeps(now), c.tenantId, c.courseId);
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/The tool's private key \S+ cannot be opened with this server's TOOL_KEY_SECRET/);
      expect(await written(c.tenantId)).toEqual({ people: 0, memberships: 0, links: 0 });
    } finally {
      // Back to plain rows, as the rest of this file's store (no secret) reads them.
      const sealer = createKeySealer([before]);
      for (const row of await db.store.models.ToolKey.findAll()) {
        row.privateJwk = sealer.open(row.privateJwk) as Record<string, unknown>;
        await row.save();
      }
    }
  });
});

describe('Link headers (RFC 8288)', () => {
  it('reads next and differences, quoted or not, relative or absolute, in any order', () => {
    const links = parseLinkHeader(
      '<https://lms.example/m?page=2>; rel="next", </m?since=9>;rel=differences, <https://lms.example/x>; title="t"; rel="first last"',
      'https://lms.example/m',
    );
    expect(links.get('next')).toBe('https://lms.example/m?page=2');
    expect(links.get('differences')).toBe('https://lms.example/m?since=9');
    expect(links.get('last')).toBe('https://lms.example/x');
    expect(parseLinkHeader(null, 'https://lms.example').size).toBe(0);
  });
});
