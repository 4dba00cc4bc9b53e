import { describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { insertPerson, type NewPerson } from '../../src/domain/people.js';
import { startRosterSync, syncCourseRoster } from '../../src/domain/roster-sync.js';
import { backendName } from '../support/db.js';
import { MEMBERSHIP, member } from '../support/nrps-platform.js';
import { courseOfNewSchool, rows, schoolWithPlatform, setUpNrpsEnv, syncDeps } from './helpers.js';

/**
 * A course's roster from the LMS (NRPS 2.0) against an emulated platform: who each member becomes,
 * what happens to memberships, paging, differences, and that a fault fails the sync whole.
 */
const env = setUpNrpsEnv();

let ctxN = 0;
const setup = (policy = {}, seatLimit: number | null = null) =>
  courseOfNewSchool(env, `ctx-${++ctxN}`, policy, seatLimit);

const SCIM = { actor: 'scim-test' };
/** People the school's IdP provisioned over SCIM, written in one transaction in the order given. */
async function provisionedOverScim(tenantId: string, ...people: Partial<NewPerson>[]) {
  return inTransaction(env.store, async (t) => {
    const made = [];
    for (const p of people)
      made.push(await insertPerson(env.store, t, SCIM, { tenantId, status: 'provisioned', source: 'scim', ...p }));
    return made;
  });
}

const memberships = (courseId: string) =>
  rows<{ sub: string; roles: string[]; status: string; source: string; person_status: string }>(
    env.store,
    `SELECT l.sub, m.roles, m.status, m.source, p.status AS person_status FROM course_memberships m
       JOIN people p ON p.id = m.person_id
       JOIN identity_links l ON l.person_id = p.id
      WHERE m.course_id = $1 ORDER BY l.sub`,
    [courseId],
  );

describe(`roster sync on ${backendName}`, () => {
  it('prepares a course before anyone launches: waiting people, linked, with their memberships and roles', async () => {
    const s = await setup();
    env.nrps.setRoster(s.contextId, [
      member('t-1', 'Instructor', { email: 'teach@school.example' }),
      member('s-1', 'Learner', { given_name: 'Ada', family_name: 'L', email: 'ada@school.example' }),
      member('s-2'),
    ]);
    const r = await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId);
    expect(r).toMatchObject({ status: 'succeeded', mode: 'full', counts: { members: 3, added: 3, errors: 0 } });
    expect(await memberships(s.courseId)).toEqual([
      { sub: 's-1', roles: [`${MEMBERSHIP}Learner`], status: 'active', source: 'roster', person_status: 'invited' },
      { sub: 's-2', roles: [`${MEMBERSHIP}Learner`], status: 'active', source: 'roster', person_status: 'invited' },
      { sub: 't-1', roles: [`${MEMBERSHIP}Instructor`], status: 'active', source: 'roster', person_status: 'invited' },
    ]);
    const people = await rows<{
      source: string;
      matched_by: string;
      given_name: string | null;
      first_launch_at: Date | null;
    }>(
      env.store,
      `SELECT p.source, l.matched_by, p.given_name, p.first_launch_at FROM people p JOIN identity_links l ON l.person_id = p.id
        WHERE p.tenant_id = $1 ORDER BY l.sub`,
      [s.tenantId],
    );
    expect(people.map((p) => [p.source, p.matched_by, p.first_launch_at])).toEqual([
      ['roster', 'roster', null],
      ['roster', 'roster', null],
      ['roster', 'roster', null],
    ]);
    expect(people[0].given_name).toBe('Ada');
    const audit = await rows<{ action: string; after: Record<string, unknown> }>(
      env.store,
      `SELECT action, after FROM audit_events WHERE tenant_id = $1 AND action LIKE 'roster.%'`,
      [s.tenantId],
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'roster.sync', after: { syncId: r.id, added: 3, peopleCreated: 3 } });
    // The token request carried a client assertion the platform verified against the tool's JWKS.
    const tokenReq = env.nrps.tokenRequests.at(-1)!;
    expect(tokenReq.ok).toBe(true);
    expect(tokenReq.claims).toMatchObject({ iss: env.nrps.clientId, sub: env.nrps.clientId, aud: env.nrps.tokenUrl });
  });

  it('finds the people the other doors would: the identity claim, a trusted email; never an untrusted one', async () => {
    const s = await setup({ trustEmail: true });
    const [byKey, byMail] = await provisionedOverScim(
      s.tenantId,
      { externalId: 'SIS-1' },
      { primaryEmail: 'mail@school.example' },
    );
    env.nrps.setRoster(s.contextId, [
      member('u-key', 'Learner', { lis_person_sourcedid: 'SIS-1' }),
      member('u-mail', 'Learner', { email: 'MAIL@school.example' }),
    ]);
    const r = await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId);
    expect(r).toMatchObject({ status: 'succeeded', problems: [], counts: { added: 2, errors: 0 } });
    const links = await rows<{ sub: string; person_id: string; matched_by: string }>(
      env.store,
      `SELECT sub, person_id, matched_by FROM identity_links WHERE tenant_id = $1 ORDER BY sub`,
      [s.tenantId],
    );
    expect(links).toEqual([
      { sub: 'u-key', person_id: byKey.id, matched_by: 'claim' },
      { sub: 'u-mail', person_id: byMail.id, matched_by: 'email' },
    ]);
    const [{ n }] = await rows<{ n: number }>(env.store, `SELECT count(*)::int AS n FROM people WHERE tenant_id = $1`, [
      s.tenantId,
    ]);
    expect(n).toBe(2);

    // The same roster on a platform not trusted for email: the email names nobody; a new person waits.
    const u = await setup({ trustEmail: false });
    await provisionedOverScim(u.tenantId, { primaryEmail: 'mail@school.example' });
    env.nrps.setRoster(u.contextId, [member('u-mail', 'Learner', { email: 'mail@school.example' })]);
    await syncCourseRoster(env.store, syncDeps(env.store), u.tenantId, u.courseId);
    const people = await rows<{ source: string }>(
      env.store,
      `SELECT source FROM people WHERE tenant_id = $1 ORDER BY source`,
      [u.tenantId],
    );
    expect(people.map((p) => p.source)).toEqual(['roster', 'scim']);
  });

  it('reads a custom identity claim (sent with ?rlid=) against externalId before userName', async () => {
    const s = await setup({ identityClaim: 'custom.sis_id' });
    const [, byExternalId] = await provisionedOverScim(s.tenantId, { userName: 'X-2' }, { externalId: 'X-2' });
    const custom = (v: string) => ({
      message: [{ 'https://purl.imsglobal.org/spec/lti/claim/custom': { sis_id: v } }],
    });
    env.nrps.setRoster(s.contextId, [
      member('c-new', 'Learner', custom('NEW-1')),
      member('c-known', 'Learner', custom('X-2')),
    ]);
    const r = await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ status: 'succeeded', counts: { members: 2, added: 2, errors: 0 } });
    const links = await rows<{ sub: string; person_id: string; external_id: string; source: string }>(
      env.store,
      `SELECT l.sub, l.person_id, p.external_id, p.source FROM identity_links l JOIN people p ON p.id = l.person_id
        WHERE l.tenant_id = $1 ORDER BY l.sub`,
      [s.tenantId],
    );
    expect(links[1]).toEqual({ sub: 'c-new', person_id: expect.any(String), external_id: 'NEW-1', source: 'roster' });
    expect(links[0]).toEqual({ sub: 'c-known', person_id: byExternalId.id, external_id: 'X-2', source: 'scim' });
  });

  it('reports a member it cannot place (two people have that school id) and applies the rest', async () => {
    const s = await setup();
    await provisionedOverScim(s.tenantId, { externalId: 'TWIN' }, { externalId: 'TWIN' });
    env.nrps.setRoster(s.contextId, [member('a', 'Learner', { lis_person_sourcedid: 'TWIN' }), member('b')]);
    const r = await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId);
    expect(r).toMatchObject({ status: 'succeeded', counts: { members: 2, added: 1, errors: 1 } });
    expect(r.problems).toEqual([expect.objectContaining({ userId: 'a', reason: 'ambiguous' })]);
    expect((await memberships(s.courseId)).map((m) => m.sub)).toEqual(['b']);
  });

  it('follows rel="next" through every page', async () => {
    const s = await setup();
    env.nrps.pageSize = 2;
    try {
      env.nrps.setRoster(
        s.contextId,
        ['p1', 'p2', 'p3', 'p4', 'p5'].map((id) => member(id)),
      );
      const before = env.nrps.memberRequests.length;
      const r = await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId);
      expect(r.counts).toMatchObject({ members: 5, added: 5 });
      const pages = env.nrps.memberRequests.slice(before);
      expect(pages.map((p) => new URL(p.url).searchParams.get('page'))).toEqual([null, '1', '2']);
    } finally {
      env.nrps.pageSize = 50;
    }
  });

  it('reads the differences link on the next sync: joiners added, role changes updated, leavers ended; the people stay', async () => {
    const s = await setup();
    env.nrps.setRoster(s.contextId, [member('d1'), member('d2'), member('d3')]);
    const deps = syncDeps(env.store);
    expect((await syncCourseRoster(env.store, deps, s.tenantId, s.courseId)).counts.added).toBe(3);
    env.nrps.setRoster(s.contextId, [member('d1', 'TeachingAssistant'), member('d3'), member('d4')]);
    const before = env.nrps.memberRequests.length;
    const r = await syncCourseRoster(env.store, deps, s.tenantId, s.courseId);
    expect(r).toMatchObject({ status: 'succeeded', mode: 'differences' });
    expect(r.counts).toMatchObject({ members: 3, added: 1, updated: 1, ended: 1 });
    expect(new URL(env.nrps.memberRequests[before].url).searchParams.get('since')).not.toBeNull();
    expect((await memberships(s.courseId)).map((m) => [m.sub, m.roles[0].split('#')[1], m.status])).toEqual([
      ['d1', 'TeachingAssistant', 'active'],
      ['d2', 'Learner', 'inactive'],
      ['d3', 'Learner', 'active'],
      ['d4', 'Learner', 'active'],
    ]);
    const [d2] = await rows<{ status: string }>(
      env.store,
      `SELECT p.status FROM people p JOIN identity_links l ON l.person_id = p.id WHERE l.tenant_id = $1 AND l.sub = 'd2'`,
      [s.tenantId],
    );
    expect(d2.status).toBe('invited');
    // One token served both syncs (cached until it expires).
    expect(deps.tokens.requests).toBe(1);
  });

  it('ends on a full sync the LMS memberships of people no longer in the roster, not those a school admin made', async () => {
    const s = await setup();
    env.nrps.setRoster(s.contextId, [member('f1'), member('f2')]);
    const full = { ...syncDeps(env.store), fullSyncEveryMs: 0 };
    await syncCourseRoster(env.store, full, s.tenantId, s.courseId);
    const admin = await inTransaction(env.store, (t) =>
      insertPerson(
        env.store,
        t,
        { actor: 'admin' },
        { tenantId: s.tenantId, status: 'invited', source: 'admin', primaryEmail: 'a@x.example' },
      ),
    );
    await env.store.models.CourseMembership.create({
      tenantId: s.tenantId,
      courseId: s.courseId,
      personId: admin.id,
      roles: ['Learner'],
      source: 'api',
    });
    env.nrps.setRoster(s.contextId, [member('f1')]);
    const r = await syncCourseRoster(env.store, full, s.tenantId, s.courseId);
    expect(r).toMatchObject({ mode: 'full', counts: { members: 1, ended: 1, unchanged: 1, added: 0 } });
    const statuses = await rows<{ source: string; status: string }>(
      env.store,
      `SELECT source, status FROM course_memberships WHERE course_id = $1 ORDER BY source, status`,
      [s.courseId],
    );
    expect(statuses).toEqual([
      { source: 'api', status: 'active' },
      { source: 'roster', status: 'active' },
      { source: 'roster', status: 'inactive' },
    ]);
    const ended = await rows<{ action: string }>(
      env.store,
      `SELECT action FROM audit_events WHERE tenant_id = $1 AND action = 'course_membership.end'`,
      [s.tenantId],
    );
    expect(ended).toHaveLength(1);
  });

  it('changes nothing when synced again with the same roster', async () => {
    const s = await setup();
    env.nrps.setRoster(s.contextId, [member('same-1'), member('same-2', 'Instructor')]);
    const deps = { ...syncDeps(env.store), fullSyncEveryMs: 0 };
    await syncCourseRoster(env.store, deps, s.tenantId, s.courseId);
    const audits = async () =>
      (
        await rows<{ n: number }>(env.store, `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1`, [
          s.tenantId,
        ])
      )[0].n;
    const before = await audits();
    const r = await syncCourseRoster(env.store, deps, s.tenantId, s.courseId);
    expect(r.counts).toEqual({ members: 2, added: 0, updated: 0, ended: 0, unchanged: 2, errors: 0 });
    expect(await audits()).toBe(before + 1); // the roster.sync record only
  });

  it("stops at the tenant's seat limit: the members beyond it are reported, the rest applies", async () => {
    const s = await setup({}, 2);
    env.nrps.setRoster(s.contextId, [member('seat-1'), member('seat-2'), member('seat-3')]);
    const r = await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId);
    expect(r).toMatchObject({ status: 'succeeded', counts: { added: 2, errors: 1 } });
    expect(r.problems).toEqual([expect.objectContaining({ userId: 'seat-3', reason: 'seat_limit' })]);
  });

  it('joins the sync already queued for a course rather than queueing a second', async () => {
    const s = await setup();
    const a = await startRosterSync(env.store, s.tenantId, s.courseId, 'api', 'test');
    const b = await startRosterSync(env.store, s.tenantId, s.courseId, 'launch', 'test');
    expect(b).toEqual({ id: a.id, joined: true });
    env.nrps.setRoster(s.contextId, [member('q1')]);
    const r = await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId, { syncId: a.id });
    expect(r.status).toBe('succeeded');
    // Claimed once: running it again returns it as it stands.
    expect((await syncCourseRoster(env.store, syncDeps(env.store), s.tenantId, s.courseId, { syncId: a.id })).id).toBe(
      a.id,
    );
  });

  it('refuses a course with no roster known yet, in domain words', async () => {
    const { tenant, platform } = await schoolWithPlatform(env.store, env.nrps);
    const { upsertLaunchCourse } = await import('../../src/domain/launch-course.js');
    const { courseId } = await inTransaction(env.store, (t) =>
      upsertLaunchCourse(
        env.store,
        t,
        { actor: 't' },
        { tenantId: tenant.id, platformId: platform.id, contextId: 'none', sisKeys: [] },
      ),
    );
    await expect(startRosterSync(env.store, tenant.id, courseId, 'api', 't')).rejects.toMatchObject({
      code: 'conflict',
    });
  });
});
