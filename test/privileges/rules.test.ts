import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession } from '../../lti/session.js';
import { inTransaction } from '../../src/db/store.js';
import { insertPerson } from '../../src/domain/people.js';
import { seedTenant } from '../support/server.js';
import { apiClient, enc, privilegesHarness, type Api } from './helpers.js';
import { scimGroup, scimRemoveMember, scimSetActive, sqlOn } from './helpers.js';

/**
 * The rules of DESIGN.md "Privileges", over HTTP: deny wins; role defaults, group grants (nested
 * groups) and person grants combine; active and provisioned people hold the effect, invited
 * placeholders wait for their first sign-in and suspended people hold nothing; course admins need
 * privileges.manage, cannot grant what they do not hold, cannot remove the last holder; tenant
 * admins are exempt; bad input is a clear 4xx and writes nothing; other tenants' ids are 404.
 */
let h: Awaited<ReturnType<typeof privilegesHarness>>;
let courseId: string;

const sql = <T = any>(q: string, bind: unknown[] = []) => sqlOn(h.server.store)<T>(q, bind);

async function person(
  status: 'active' | 'provisioned' | 'suspended',
  userName: string,
  email = `${userName}@school.example`,
) {
  return inTransaction(h.server.store, (t) =>
    insertPerson(
      h.server.store,
      t,
      { actor: 'test' },
      { tenantId: h.tenant.id, status, source: 'scim', userName, primaryEmail: email, displayName: userName },
    ),
  );
}
async function enrol(personId: string, roles: string[], course = courseId) {
  const r = await h.api.put(`/courses/${course}/memberships/${personId}`, { roles });
  expect(r.status).toBe(200);
}
async function session(personId: string, course = courseId): Promise<Api> {
  const { token } = await issueSession(h.server.store, h.server.config.publicUrl, {
    tenantId: h.tenant.id,
    personId,
    courseId: course,
    roles: [],
  });
  return apiClient(h.server, token);
}
const authorize = async (personRef: string, privilege: string, course = courseId) =>
  (await h.api.post('/authorize', { course, person: personRef, privilege })).body;

beforeAll(async () => {
  h = await privilegesHarness();
  courseId = (await h.api.post('/courses', { title: 'Chemistry', externalKey: 'CHEM-1' })).body.id;
});
afterAll(() => h?.close());

describe('effective privileges', () => {
  it('gives role defaults to members and lets a person deny win over their role', async () => {
    const t = await person('active', 'teacher1');
    await enrol(t.id, ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor']);
    expect(await authorize(t.id, 'content.edit')).toMatchObject({
      allowed: true,
      why: [{ source: 'role', effect: 'allow', role: 'Instructor' }],
    });
    await h.api.put(`/courses/${courseId}/privileges/${t.id}`, { deny: ['content.edit'] });
    const d = await authorize(t.id, 'content.edit');
    expect(d.allowed).toBe(false);
    expect(d.why).toEqual([expect.objectContaining({ source: 'grant', effect: 'deny' })]);
    expect((await authorize(t.id, 'grades.edit')).allowed).toBe(true);
  });

  it('applies group grants to members of nested groups, and a group deny beats a person allow', async () => {
    const s = await person('active', 'student1');
    const inner = await scimGroup(h.server, h.scimToken, 'Year 10 Set A', [{ value: s.id, type: 'User' }]);
    const outer = await scimGroup(h.server, h.scimToken, 'Year 10', [{ value: inner.id, type: 'Group' }]);
    expect((await authorize(s.id, 'grades.view')).allowed).toBe(false);
    expect(
      (
        await h.api.put(`/courses/${courseId}/group-privileges/${outer.id}`, {
          allow: ['grades.view'],
          deny: ['members.view'],
        })
      ).status,
    ).toBe(200);
    expect(await authorize(s.id, 'grades.view')).toMatchObject({
      allowed: true,
      why: [{ source: 'group', effect: 'allow', groupId: outer.id, groupName: 'Year 10' }],
    });
    await h.api.put(`/courses/${courseId}/privileges/${s.id}`, { allow: ['members.view'] });
    expect(await authorize(s.id, 'members.view')).toMatchObject({
      allowed: false,
      why: [{ source: 'group', effect: 'deny', groupId: outer.id }],
    });
    // leaving the inner group (the IdP removes them) removes what the outer group granted
    await scimRemoveMember(h.server, h.scimToken, inner.id, s.id);
    expect((await authorize(s.id, 'grades.view')).allowed).toBe(false);
    expect((await h.api.get(`/courses/${courseId}/group-privileges`)).body.items).toEqual([
      { groupId: outer.id, displayName: 'Year 10', allow: ['grades.view'], deny: ['members.view'] },
    ]);
    // the course filter of the audit trail matches group events by the course half of their target
    const groupEvents = (await h.api.get(`/audit?course=${courseId}&action=group_privileges.set`)).body.items;
    expect(groupEvents.map((e: any) => [e.targetType, e.targetId])).toEqual([
      ['course_group', `${courseId}/${outer.id}`],
    ]);
  });

  it('gives nothing to people who are not active, keeps their grants, and restores them on reactivation', async () => {
    const p = await person('active', 'suspendable');
    // Fixture: they have signed in before, so lifting the suspension makes them active again.
    await sql('UPDATE people SET first_launch_at = now() WHERE id = $1 RETURNING 1', [p.id]);
    await h.api.put(`/courses/${courseId}/privileges/${p.id}`, { allow: ['grades.view'] });
    expect((await authorize(p.id, 'grades.view')).allowed).toBe(true);
    // The IdP deactivates them over SCIM: the cached decision must not survive.
    await scimSetActive(h.server, h.scimToken, p.id, false);
    const d = await authorize(p.id, 'grades.view');
    expect(d).toMatchObject({
      allowed: false,
      why: [
        { source: 'status', status: 'suspended' },
        { source: 'grant', effect: 'allow' },
      ],
    });
    const listed = (await h.api.get(`/courses/${courseId}/privileges`)).body.items.find(
      (i: any) => i.person.id === p.id,
    );
    expect(listed).toMatchObject({ allow: ['grades.view'], deny: [], effective: [] });
    await scimSetActive(h.server, h.scimToken, p.id, true);
    expect((await authorize(p.id, 'grades.view')).allowed).toBe(true);
  });

  it('lets a person the IdP provisioned (not yet launched) hold their grants now, and keeps invited placeholders waiting', async () => {
    const provisioned = await person('provisioned', 'vouched');
    await enrol(provisioned.id, ['Learner']);
    await h.api.put(`/courses/${courseId}/privileges/${provisioned.id}`, { allow: ['grades.view'] });
    expect(await authorize(provisioned.id, 'grades.view')).toMatchObject({
      allowed: true,
      why: [{ source: 'grant', effect: 'allow' }],
    });
    expect((await authorize(provisioned.id, 'course.view')).allowed).toBe(true);

    // A grant by an email nobody has yet makes an invited placeholder: it waits, and says so.
    const byEmail = await h.api.put(`/courses/${courseId}/privileges/${enc('email:not-yet@school.example')}`, {
      allow: ['grades.view'],
    });
    expect(byEmail.status).toBe(201);
    const waiting = await authorize('email:not-yet@school.example', 'grades.view');
    expect(waiting).toMatchObject({
      allowed: false,
      why: [
        { source: 'status', status: 'invited' },
        { source: 'grant', effect: 'allow' },
      ],
    });
    expect(waiting.why[0].detail).toMatch(/first sign-in/);
  });

  it('explains every privilege that has a source, with the rows that decided it', async () => {
    const p = await person('active', 'explained');
    await enrol(p.id, ['Learner']);
    await h.api.put(`/courses/${courseId}/privileges/${p.id}`, { allow: ['grades.view'], deny: ['course.view'] });
    const e = (await h.api.get(`/courses/${courseId}/privileges/${enc(`email:explained@school.example`)}`)).body;
    expect(e.effective).toEqual(['grades.view']);
    const cv = e.decisions.find((d: any) => d.privilege === 'course.view');
    expect(cv).toMatchObject({ allowed: false, why: [{ source: 'grant', effect: 'deny' }] });
  });
});

describe('bad input is refused and writes nothing', () => {
  it('rejects an unknown privilege with 400 listing the valid ones, creating no placeholder', async () => {
    const r = await h.api.put(`/courses/${courseId}/privileges/${enc('email:newbie@school.example')}`, {
      allow: ['grades.fly'],
    });
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain('grades.fly');
    expect(r.body.valid).toEqual(expect.arrayContaining(['course.view', 'privileges.manage']));
    expect(await sql(`SELECT 1 FROM people WHERE primary_email = 'newbie@school.example'`)).toHaveLength(0);
  });

  it('rejects a malformed email, an unknown ref form, allow∩deny and malformed JSON with 400', async () => {
    expect(
      (await h.api.put(`/courses/${courseId}/privileges/${enc('email:not-an-email')}`, { allow: [] })).status,
    ).toBe(400);
    expect((await h.api.put(`/courses/${courseId}/privileges/someone`, { allow: [] })).status).toBe(400);
    expect(
      (
        await h.api.put(`/courses/${courseId}/privileges/${enc('email:x@school.example')}`, {
          allow: ['grades.view'],
          deny: ['grades.view'],
        })
      ).status,
    ).toBe(400);
    expect(
      (await h.api.call('PUT', `/courses/${courseId}/privileges/${enc('email:x@school.example')}`, '{"allow": ['))
        .status,
    ).toBe(400);
    expect(
      (await h.api.post('/authorize', { course: courseId, person: 'email:x@school.example', privilege: 'nope.nope' }))
        .status,
    ).toBe(400);
    expect(await sql(`SELECT 1 FROM people WHERE primary_email = 'x@school.example'`)).toHaveLength(0);
  });

  it('answers 409 listing the candidates when an email matches several people — never guesses', async () => {
    const a = await person('active', 'twin-a', 'shared@school.example');
    const b = await person('active', 'twin-b', 'shared@school.example');
    const r = await h.api.put(`/courses/${courseId}/privileges/${enc('email:shared@school.example')}`, {
      allow: ['grades.view'],
    });
    expect(r.status).toBe(409);
    expect(r.body.candidates.map((c: any) => c.id).sort()).toEqual([a.id, b.id].sort());
    expect(await sql(`SELECT 1 FROM privilege_grants WHERE person_id = ANY($1::uuid[])`, [[a.id, b.id]])).toHaveLength(
      0,
    );
  });

  it("treats another tenant's course and person ids as not found", async () => {
    const other = await seedTenant(h.server.store);
    const otherApi = apiClient(h.server, other.adminToken);
    const otherCourse = (await otherApi.post('/courses', { title: 'Elsewhere' })).body.id;
    const mine = await person('active', 'tenant-one-person');
    expect((await otherApi.put(`/courses/${courseId}/privileges/${mine.id}`, { allow: ['course.view'] })).status).toBe(
      404,
    );
    expect(
      (await otherApi.put(`/courses/${otherCourse}/privileges/${mine.id}`, { allow: ['course.view'] })).status,
    ).toBe(404);
    expect((await otherApi.get(`/people/${mine.id}`)).status).toBe(404);
    expect(
      (await otherApi.post('/authorize', { course: courseId, person: mine.id, privilege: 'course.view' })).status,
    ).toBe(404);
    expect((await h.api.get(`/courses/${otherCourse}`)).status).toBe(404);
  });
});

describe('course admins acting through their launch session', () => {
  it('need privileges.manage in the course', async () => {
    const learner = await person('active', 'plain-learner');
    await enrol(learner.id, ['Learner']);
    const s = await session(learner.id);
    const r = await s.put(`/courses/${courseId}/privileges/${enc('email:someone@school.example')}`, {
      allow: ['course.view'],
    });
    expect(r.status).toBe(403);
    expect(r.body.detail).toContain('privileges.manage');
    // nor browse the directory or the course's grants; they may see themselves
    expect((await s.get('/people?q=a')).status).toBe(403);
    expect((await s.get(`/people/${enc('email:teacher1@school.example')}`)).status).toBe(403);
    expect((await s.get(`/people/${learner.id}`)).status).toBe(200);
    expect((await s.get(`/courses/${courseId}/privileges`)).status).toBe(403);
    expect((await s.get(`/courses/${courseId}/group-privileges`)).status).toBe(403);
    expect(
      (await s.post('/authorize', { course: courseId, person: learner.id, privilege: 'course.view' })).body.allowed,
    ).toBe(true);
  });

  it('can grant what they hold, cannot grant what they do not, and cannot call tenant-admin routes', async () => {
    const ta = await person('active', 'ta-manager');
    await enrol(ta.id, ['TeachingAssistant']);
    await h.api.put(`/courses/${courseId}/privileges/${ta.id}`, { allow: ['privileges.manage'] });
    const s = await session(ta.id);
    const ok = await s.put(`/courses/${courseId}/privileges/${enc('email:colleague@school.example')}`, {
      allow: ['grades.edit'],
    });
    expect(ok.status).toBe(201);
    const no = await s.put(`/courses/${courseId}/privileges/${enc('email:colleague@school.example')}`, {
      allow: ['grades.edit', 'members.manage'],
    });
    expect(no.status).toBe(403);
    expect(no.body.missing).toEqual(['members.manage']);
    const grants = await sql<{ privilege: string }>(`SELECT privilege FROM privilege_grants WHERE person_id = $1`, [
      ok.body.person.id,
    ]);
    expect(grants.map((g) => g.privilege)).toEqual(['grades.edit']); // the refused change wrote nothing
    expect((await s.post('/courses', { title: 'Sneaky' })).status).toBe(403);
    expect((await s.get('/audit')).status).toBe(403);
    // the audit names the person who acted
    const audit = await h.api.get(`/audit?actor=${enc(`person:${ta.id}`)}`);
    expect(audit.body.items.map((e: any) => e.action)).toEqual(
      expect.arrayContaining(['privileges.set', 'person.create']),
    );
  });

  it('cannot remove the last holder of privileges.manage; a tenant admin can', async () => {
    const course = (await h.api.post('/courses', { title: 'One manager' })).body.id;
    const only = await person('active', 'only-manager');
    await enrol(only.id, ['Learner'], course);
    await h.api.put(`/courses/${course}/privileges/${only.id}`, { allow: ['privileges.manage', 'course.view'] });
    const s = await session(only.id, course);
    const r = await s.put(`/courses/${course}/privileges/${only.id}`, { allow: ['course.view'] });
    expect(r.status).toBe(409);
    expect(r.body.detail).toContain('last holder');
    expect((await s.del(`/courses/${course}/privileges/${only.id}`)).status).toBe(409);
    expect((await authorize(only.id, 'privileges.manage', course)).allowed).toBe(true);
    expect((await h.api.del(`/courses/${course}/privileges/${only.id}`)).body).toEqual({ removed: 2 });
    expect((await authorize(only.id, 'privileges.manage', course)).allowed).toBe(false);
  });

  it('cannot use a session of another tenant or an anonymous launch', async () => {
    const other = await seedTenant(h.server.store);
    const { token } = await issueSession(h.server.store, h.server.config.publicUrl, {
      tenantId: other.tenant.id,
      personId: '00000000-0000-4000-8000-000000000000',
      courseId: null,
      roles: [],
    });
    // a person the session's school does not have: refused before any course is looked up
    expect((await apiClient(h.server, token).get(`/courses/${courseId}/privileges`)).status).toBe(401);
    const anon = await issueSession(h.server.store, h.server.config.publicUrl, {
      tenantId: h.tenant.id,
      personId: null,
      courseId,
      roles: [],
    });
    expect((await apiClient(h.server, anon.token).get(`/courses/${courseId}/privileges`)).status).toBe(403);
    expect((await apiClient(h.server, 'not.a.jwt').get(`/courses/${courseId}/privileges`)).status).toBe(401);
  });
});

describe('catalogue and role defaults', () => {
  it('are per tenant and editable by the tenant admin', async () => {
    expect((await h.api.get('/privileges')).body.items.map((i: any) => i.key)).toEqual([
      'content.edit',
      'course.view',
      'grades.edit',
      'grades.view',
      'members.manage',
      'members.view',
      'privileges.manage',
    ]);
    expect((await h.api.post('/privileges', { key: 'reports.view', description: 'See reports' })).status).toBe(201);
    expect((await h.api.put('/role-defaults/Mentor', { privileges: ['course.view', 'reports.view'] })).body).toEqual({
      role: 'Mentor',
      privileges: ['course.view', 'reports.view'],
    });
    expect((await h.api.put('/role-defaults/Mentor', { privileges: ['nope.nope'] })).status).toBe(400);
    const m = await person('active', 'mentor1');
    await enrol(m.id, ['Mentor']);
    expect((await authorize(m.id, 'reports.view')).allowed).toBe(true);
    const other = await seedTenant(h.server.store);
    const otherKeys = (await apiClient(h.server, other.adminToken).get('/privileges')).body.items.map(
      (i: any) => i.key,
    );
    expect(otherKeys).not.toContain('reports.view');
  });
});

describe('the OpenAPI document', () => {
  it('describes the privileges API', async () => {
    const doc = await (await fetch(`${h.server.url}/openapi.json`)).json();
    for (const path of [
      '/api/v1/courses',
      '/api/v1/people',
      '/api/v1/courses/{id}/privileges/{personRef}',
      '/api/v1/authorize',
      '/api/v1/courses/{id}/enrolments',
      '/api/v1/audit',
      '/api/v1/people/{id}/merge',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(doc.paths['/api/v1/courses/{id}/enrolments'].post.responses).toHaveProperty('207');
  });
});

describe('courses', () => {
  it('are created, listed by title with paging, found by SIS key, changed and deleted — all audited', async () => {
    const a = (await h.api.post('/courses', { title: 'Zoology A', externalKey: 'ZOO-A' })).body;
    await h.api.post('/courses', { title: 'Zoology B' });
    expect((await h.api.post('/courses', { title: 'Dup', externalKey: 'ZOO-A' })).status).toBe(409);
    expect((await h.api.post('/courses', { title: '' })).status).toBe(400);
    const page1 = (await h.api.get('/courses?q=zoology&limit=1')).body;
    expect(page1.items.map((c: any) => c.title)).toEqual(['Zoology A']);
    const page2 = (await h.api.get(`/courses?q=zoology&limit=1&after=${page1.next}`)).body;
    expect(page2.items.map((c: any) => c.title)).toEqual(['Zoology B']);
    expect(page2.next).toBeNull();
    expect((await h.api.get('/courses/key:ZOO-A')).body.id).toBe(a.id);
    expect((await h.api.call('PATCH', `/courses/${a.id}`, { title: 'Zoology 1' })).body).toMatchObject({
      title: 'Zoology 1',
      externalKey: 'ZOO-A',
    });
    expect((await h.api.del(`/courses/${a.id}`)).status).toBe(204);
    expect((await h.api.get(`/courses/${a.id}`)).status).toBe(404);
    const actions = (await h.api.get(`/audit?course=${a.id}`)).body.items.map((e: any) => e.action);
    expect(actions).toEqual(['course.delete', 'course.update', 'course.create']);
  });
});
