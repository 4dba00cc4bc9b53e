import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendName } from '../support/db.js';
import { MEMBERSHIP, member, NRPS_CLAIM, startNrpsPlatform, type NrpsPlatform } from '../support/nrps-platform.js';
import { runLaunch } from '../support/platform-emulator.js';
import { runCli } from '../support/processes.js';
import { provisionPerson, resourceLaunch, ROLE, rows, spec, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { peopleAndLinks } from './helpers.js';

/**
 * The roster end to end on the real server: an instructor's launch remembers the course's NRPS
 * URL and syncs it in the background; the synced students' first launches find them by their
 * link; the API and the CLI start syncs on demand.
 */
let env: LtiEnv;
let nrps: NrpsPlatform;
beforeAll(async () => {
  nrps = await startNrpsPlatform();
  env = await startLtiEnv({ authTokenUrl: nrps.tokenUrl });
  nrps.trustTool(`${env.toolUrl}/lti/jwks`);
  // No just-in-time people on this platform: the teacher and one student come from the IdP.
  await provisionPerson(env.store, env.tenant.id, { externalId: 'T-1' });
  await provisionPerson(env.store, env.tenant.id, { externalId: 'S-9' });
});
const SOURCED: Record<string, string> = { 'teacher-1': 'T-1', 'stud-9': 'S-9' };
afterAll(async () => {
  await env?.close();
  await nrps?.close();
});

const launch = (sub: string, roles: string[], contextId: string, extra: Record<string, unknown> = {}) =>
  runLaunch(
    env.emu,
    spec(
      resourceLaunch(env, {
        sub,
        roles,
        contextId,
        sourcedId: SOURCED[sub],
        extra: { [NRPS_CLAIM]: nrps.claim(contextId), ...extra },
      }),
    ),
    { toolUrl: env.toolUrl },
  );

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${env.toolUrl}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${env.adminToken}`, ...init.headers },
  });

async function courseIdOf(contextId: string): Promise<string> {
  const [c] = await rows<{ id: string }>(
    env.store,
    `SELECT id FROM courses WHERE tenant_id = $1 AND lti_context_id = $2`,
    [env.tenant.id, contextId],
  );
  return c.id;
}

async function syncs(courseId: string) {
  return rows<{ id: string; status: string; trigger: string; added: number; error: string | null }>(
    env.store,
    `SELECT id, status, trigger, added, error FROM roster_syncs WHERE course_id = $1 ORDER BY created_at`,
    [courseId],
  );
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe(`roster sync from launches, the API and the CLI (${backendName})`, { timeout: 120_000 }, () => {
  it("syncs the course in the background after an instructor's launch, without delaying it", async () => {
    nrps.setRoster('bio', [member('teacher-1', 'Instructor'), member('stud-1'), member('stud-2')]);
    nrps.inject('token', { delayMs: 2500 }); // a slow platform: the launch must not wait for it
    const r = await launch('teacher-1', [ROLE.instructor], 'bio');
    expect(r.launch!.status).toBe(303);
    const courseId = await courseIdOf('bio');
    // The launch has answered while the sync is still waiting for the platform's token.
    expect((await syncs(courseId)).filter((s) => s.status === 'succeeded')).toEqual([]);
    const done = await until(
      () => syncs(courseId),
      (s) => s[0]?.status === 'succeeded',
    );
    expect(done).toEqual([expect.objectContaining({ status: 'succeeded', trigger: 'launch', added: 2 })]);
    const [source] = await rows<{ memberships_url: string; differences_url: string | null }>(
      env.store,
      `SELECT memberships_url, differences_url FROM course_roster_sources WHERE course_id = $1`,
      [courseId],
    );
    expect(source.memberships_url).toBe(nrps.membershipsUrl('bio'));
    expect(source.differences_url).toMatch(/since=/);

    // Another instructor launch soon after does not queue a second sync (debounced per course).
    expect((await launch('teacher-1', [ROLE.instructor], 'bio')).launch!.status).toBe(303);
    await new Promise((r) => setTimeout(r, 300));
    expect(await syncs(courseId)).toHaveLength(1);
  });

  it("a synced student's first launch finds them by their link: no new person, no new link", async () => {
    const courseId = await courseIdOf('bio');
    const [before] = await rows<{ id: string; status: string; matched_by: string }>(
      env.store,
      `SELECT p.id, p.status, l.matched_by FROM identity_links l JOIN people p ON p.id = l.person_id
        WHERE l.tenant_id = $1 AND l.sub = 'stud-1'`,
      [env.tenant.id],
    );
    expect(before).toMatchObject({ status: 'invited', matched_by: 'roster' });
    const count = () => peopleAndLinks(env.store, env.tenant.id);
    const was = await count();
    const r = await launch('stud-1', [ROLE.learner], 'bio');
    expect(r.launch!.status).toBe(303);
    expect(await count()).toEqual(was);
    const audit = await rows<{ action: string }>(
      env.store,
      `SELECT action FROM audit_events WHERE tenant_id = $1 AND target_id IN ($2, $3) AND actor LIKE 'lti:%' ORDER BY id`,
      [env.tenant.id, before.id, `${courseId}:${before.id}`],
    );
    // Found by the link (no person.link, no membership write): only the first launch is recorded.
    expect(audit.map((a) => a.action)).toEqual(['person.first_launch']);
    const [after] = await rows<{ status: string; first_launch_at: Date | null }>(
      env.store,
      `SELECT status, first_launch_at FROM people WHERE id = $1`,
      [before.id],
    );
    expect(after.status).toBe('active');
    expect(after.first_launch_at).not.toBeNull();
  });

  it('a known person synced into a new course launches there on the one-statement returning path', async () => {
    // stud-1 has launched before (above). The roster of a second course names them.
    nrps.setRoster('chem', [member('teacher-1', 'Instructor'), member('stud-1')]);
    expect((await launch('teacher-1', [ROLE.instructor], 'chem')).launch!.status).toBe(303);
    const courseId = await courseIdOf('chem');
    await until(
      () => syncs(courseId),
      (s) => s[0]?.status === 'succeeded',
    );
    const statements: string[] = [];
    env.store.sequelize.addHook('afterQuery', 'count-nrps', (_o, query) => {
      const sql = (query as unknown as { sql?: string }).sql ?? '';
      if (!/^DELETE FROM lti_/.test(sql)) statements.push(sql);
    });
    try {
      expect((await launch('stud-1', [ROLE.learner], 'chem')).launch!.status).toBe(303);
    } finally {
      env.store.sequelize.removeHook('afterQuery', 'count-nrps');
    }
    expect(statements.some((q) => /START TRANSACTION|BEGIN/.test(q))).toBe(false);
    expect(statements.filter((q) => /UPDATE identity_links/.test(q))).toHaveLength(1);
  });

  it("a learner's launch remembers the roster URL but starts no sync", async () => {
    nrps.setRoster('art', [member('stud-9')]);
    expect((await launch('stud-9', [ROLE.learner], 'art', {})).launch!.status).toBe(303);
    const courseId = await courseIdOf('art');
    const source = await until(
      () => rows(env.store, `SELECT 1 FROM course_roster_sources WHERE course_id = $1`, [courseId]),
      (r) => r.length === 1,
    );
    expect(source).toHaveLength(1);
    expect(await syncs(courseId)).toEqual([]);
  });

  it('POST …/roster/sync answers 202 with the job; GET follows it to its counts', async () => {
    const courseId = await courseIdOf('art');
    nrps.setRoster('art', [member('stud-9'), member('stud-10'), member('ta-1', 'TeachingAssistant')]);
    const res = await api(`/courses/${courseId}/roster/sync`, { method: 'POST' });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; status: string };
    expect(res.headers.get('location')).toBe(`/api/v1/courses/${courseId}/roster/sync/${job.id}`);
    expect(['queued', 'running', 'succeeded']).toContain(job.status);
    const done = await until(
      async () => (await (await api(`/courses/${courseId}/roster/sync/${job.id}`)).json()) as Record<string, unknown>,
      (s) => s.status === 'succeeded' || s.status === 'failed',
    );
    expect(done).toMatchObject({
      id: job.id,
      trigger: 'api',
      status: 'succeeded',
      mode: 'full',
      // stud-9 is already a member from their own launch
      counts: { members: 3, added: 2, updated: 0, ended: 0, unchanged: 1, errors: 0 },
    });
    const list = (await (await api(`/courses/${courseId}/roster/syncs`)).json()) as { items: Array<{ id: string }> };
    expect(list.items[0].id).toBe(job.id);
    const [ta] = await rows<{ roles: string[] }>(
      env.store,
      `SELECT m.roles FROM course_memberships m JOIN identity_links l ON l.person_id = m.person_id
        WHERE m.course_id = $1 AND l.sub = 'ta-1'`,
      [courseId],
    );
    expect(ta.roles).toEqual([`${MEMBERSHIP}TeachingAssistant`]);
  });

  it('answers in problem JSON: a course without a roster (409), an unknown sync (404), a learner session (403)', async () => {
    const created = await api('/courses', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'No LMS' }),
    });
    const course = (await created.json()) as { id: string };
    const none = await api(`/courses/${course.id}/roster/sync`, { method: 'POST' });
    expect(none.status).toBe(409);
    expect(none.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const artId = await courseIdOf('art');
    const unknown = await api(`/courses/${artId}/roster/sync/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    const bad = await api(`/courses/${artId}/roster/sync/not-a-uuid`);
    expect(bad.status).toBe(400);

    const r = await launch('stud-10', [ROLE.learner], 'art');
    const ticket = /#lti_ticket=(.+)$/.exec(r.launch!.headers.get('location') ?? '')?.[1];
    const session = await fetch(`${env.toolUrl}/lti/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' },
      body: JSON.stringify({ ticket }),
    });
    const { token } = (await session.json()) as { token: string };
    const asLearner = await fetch(`${env.toolUrl}/api/v1/courses/${artId}/roster/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(asLearner.status).toBe(403);
  });

  it('PUT /roster/schedule sets the tenant schedule; out-of-range values are refused', async () => {
    const ok = await api('/roster/schedule', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ everyMinutes: 360 }),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ everyMinutes: 360 });
    const bad = await api('/roster/schedule', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ everyMinutes: 1 }),
    });
    expect(bad.status).toBe(400);
  });

  it('rosterbridge roster sync runs a sync and prints its counts', async () => {
    const courseId = await courseIdOf('art');
    nrps.setRoster('art', [member('stud-9'), member('ta-1', 'TeachingAssistant')]);
    const cliEnv: Record<string, string> = { DATA_DIR: env.server.config.dataDir };
    if (env.server.config.databaseUrl) cliEnv.DATABASE_URL = env.server.config.databaseUrl;
    const r = await runCli(['roster', 'sync', '--tenant', env.tenant.slug, '--course', courseId], cliEnv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: succeeded \((full|differences)\)/);
    expect(r.stdout).toMatch(/ended 1/);
    const list = await runCli(['roster', 'syncs', '--tenant', env.tenant.slug, '--course', courseId, '--json'], cliEnv);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ trigger: string }>)[0].trigger).toBe('cli');
  });

  it("rosterbridge roster sync reads the operator's roster sync settings", async () => {
    const courseId = await courseIdOf('art');
    nrps.setRoster('art', [member('stud-9'), member('ta-1', 'TeachingAssistant')]);
    const cliEnv: Record<string, string> = {
      DATA_DIR: env.server.config.dataDir,
      ROSTER_SYNC_FULL_EVERY_HOURS: '0.0001', // a full read now, not the differences since the last sync
      ROSTER_SYNC_MAX_MEMBERS: '1',
    };
    if (env.server.config.databaseUrl) cliEnv.DATABASE_URL = env.server.config.databaseUrl;
    const r = await runCli(['roster', 'sync', '--tenant', env.tenant.slug, '--course', courseId], cliEnv);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: failed/);
    expect(r.stdout).toMatch(/error: The roster has more members than allowed/);
  });
});
