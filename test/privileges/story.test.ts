import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/domain/tokens.js';
import { runLaunch, LTI_CLAIM } from '../support/platform-emulator.js';
import { resourceLaunch, ROLE, rows, spec, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { apiClient, enc, type Api } from './helpers.js';

/**
 * The whole story, over real sockets, on the backend this run tests: a course admin grants a
 * privilege by email to someone the school has not provisioned yet → an `invited` placeholder →
 * the IdP provisions that person over SCIM (adopted: same id) → they launch from the LMS (linked,
 * active) → the grant is effective, and no grant row was rewritten on the way.
 */
let env: LtiEnv;
let api: Api;
let scimToken: string;

beforeAll(async () => {
  env = await startLtiEnv();
  api = apiClient(env.server, env.adminToken);
  scimToken = (await createToken(env.store, { actor: 'test' }, { tenantId: env.tenant.id, kind: 'scim' })).token;
});
afterAll(() => env?.close());

const scim = (method: string, path: string, body?: unknown) =>
  fetch(`${env.toolUrl}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const grantRows = (personId: string) =>
  rows<{ id: string; xmin: string; privilege: string; effect: string }>(
    env.store,
    'SELECT id, xmin::text AS xmin, privilege, effect FROM privilege_grants WHERE person_id = $1 ORDER BY privilege',
    [personId],
  );

describe('grant by email before the person exists, then SCIM, then LTI', () => {
  it('ends with the grant effective, the same person id throughout, and the grant rows untouched', async () => {
    const course = await api.post('/courses', { title: 'Biology 101', externalKey: 'SIS-BIO-101' });
    expect(course.status).toBe(201);

    // 1. "Can't find the person?" — grant by email to someone unknown.
    const put = await api.put(`/courses/${course.body.id}/privileges/${enc('email:Ada.Lovelace@School.example')}`, {
      allow: ['grades.edit', 'course.view'],
      deny: ['members.manage'],
    });
    expect(put.status).toBe(201);
    expect(put.body.created).toBe(true);
    expect(put.body.person.status).toBe('invited');
    expect(put.body.effective).toEqual([]); // not active yet: nothing effective, grants wait
    const personId = put.body.person.id as string;
    const before = await grantRows(personId);
    expect(before.map((g) => `${g.effect}:${g.privilege}`)).toEqual([
      'allow:course.view',
      'allow:grades.edit',
      'deny:members.manage',
    ]);

    const pending = await api.post('/authorize', {
      course: course.body.id,
      person: 'email:ada.lovelace@school.example',
      privilege: 'grades.edit',
    });
    expect(pending.body).toMatchObject({ allowed: false, person: personId });
    expect(pending.body.why[0]).toMatchObject({ source: 'status', status: 'invited' });

    // 2. The IdP provisions her: the placeholder is adopted (same id), not duplicated.
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'ada.lovelace@school.example',
      externalId: 'S-1815',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: 'ada.lovelace@school.example', type: 'work', primary: true }],
      active: true,
    });
    expect(created.status).toBe(201);
    const scimUser = (await created.json()) as { id: string };
    expect(scimUser.id).toBe(personId);
    expect((await api.get(`/people/${personId}`)).body.status).toBe('provisioned');
    // The IdP vouches for her: her grant holds now, before her first launch.
    expect(
      (
        await api.post('/authorize', {
          course: course.body.id,
          person: 'email:ada.lovelace@school.example',
          privilege: 'grades.edit',
        })
      ).body,
    ).toMatchObject({ allowed: true, person: personId });

    // 3. She launches from the LMS: linked by the identity claim, becomes active.
    const launch = await runLaunch(
      env.emu,
      spec(
        resourceLaunch(env, {
          sub: 'lms-ada',
          roles: [ROLE.learner],
          sourcedId: 'S-1815',
          contextId: 'ctx-bio',
          extra: { [`${LTI_CLAIM}lis`]: { person_sourcedid: 'S-1815', course_offering_sourcedid: 'SIS-BIO-101' } },
        }),
      ),
      { toolUrl: env.toolUrl },
    );
    expect(launch.launch!.status).toBe(303);
    const person = await api.get(`/people/${personId}`);
    expect(person.body).toMatchObject({ id: personId, status: 'active', externalId: 'S-1815' });
    expect(person.body.firstLaunchAt).not.toBeNull();

    // 4. The grant is effective (deny still wins), explained, and no grant row was rewritten.
    const allowed = await api.post('/authorize', {
      course: 'key:SIS-BIO-101',
      person: 'key:S-1815',
      privilege: 'grades.edit',
    });
    expect(allowed.body).toMatchObject({ allowed: true, course: course.body.id, person: personId });
    expect(allowed.body.why).toEqual([
      expect.objectContaining({
        source: 'grant',
        effect: 'allow',
        grantId: before.find((g) => g.privilege === 'grades.edit')!.id,
      }),
    ]);
    const denied = await api.post('/authorize', {
      course: course.body.id,
      person: personId,
      privilege: 'members.manage',
    });
    expect(denied.body).toMatchObject({
      allowed: false,
      why: [expect.objectContaining({ source: 'grant', effect: 'deny' })],
    });
    const eff = await api.get(`/courses/${course.body.id}/privileges/${personId}`);
    expect(eff.body.effective).toEqual(['course.view', 'grades.edit']);
    expect(await grantRows(personId)).toEqual(before);

    // The launch enrolled her as a Learner in the same course (LTI roles → memberships).
    const members = await api.get(`/courses/${course.body.id}/memberships`);
    expect(members.body.items.map((m: { personId: string }) => m.personId)).toContain(personId);

    // The trail shows each step.
    const audit = await api.get(`/audit?person=${personId}`);
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'person.create',
        'invitation.create',
        'privileges.set',
        'person.adopt',
        'person.first_launch',
      ]),
    );
  });
});
