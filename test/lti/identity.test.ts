import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction, type Store } from '../../src/db/store.js';
import {
  upsertKnownCourseMembership,
  upsertLaunchCourse,
  upsertLaunchMembership,
} from '../../src/domain/launch-course.js';
import {
  LaunchIdentityError,
  resolveLaunchIdentity,
  type LaunchPlatformPolicy,
} from '../../src/domain/launch-identity.js';
import { addPlatform } from '../../src/domain/platforms.js';
import { createTenant } from '../../src/domain/tenants.js';
import { httpStatusOf } from '../../src/http/errors.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { provisionPerson, rows } from './helpers.js';

/** Door 3 of DESIGN.md (who is this launch?) and the launch's course, against a real database. */
const LIS = 'https://purl.imsglobal.org/spec/lti/claim/lis';
const CUSTOM = 'https://purl.imsglobal.org/spec/lti/claim/custom';
const ctx = { actor: 'lti:test', requestId: 'req-1' };

let db: TestDatabase;
let store: Store;
let tenantId: string;
let otherTenantId: string;
let platform: LaunchPlatformPolicy;
let seq = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  store = db.store;
  tenantId = (await createTenant(store, ctx, { slug: 'identity-school', name: 'Identity School' })).id;
  otherTenantId = (await createTenant(store, ctx, { slug: 'identity-other', name: 'Other' })).id;
  const p = await addPlatform(store, ctx, tenantId, {
    issuer: 'https://lms.example',
    clientId: 'c1',
    deploymentId: 'd1',
    authLoginUrl: 'https://lms.example/auth',
    authTokenUrl: 'https://lms.example/token',
    jwksUrl: 'https://lms.example/jwks',
  });
  platform = { id: p.id, trustEmail: false, jitCreate: false, identityClaim: 'lis.person_sourcedid' };
});
afterAll(async () => {
  await db?.cleanup();
});

const resolve = (
  sub: string | null,
  claims: Record<string, unknown>,
  policy: Partial<LaunchPlatformPolicy> = {},
  tenant = tenantId,
) =>
  inTransaction(store, (t) =>
    resolveLaunchIdentity(store, t, ctx, { tenantId: tenant, platform: { ...platform, ...policy }, sub, claims }),
  );

const rejection = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LaunchIdentityError);
  return err as LaunchIdentityError;
};

const next = () => ++seq;

describe('matching a launch to a person', () => {
  it('links a SCIM-provisioned person by lis.person_sourcedid = externalId, activates them once, and audits it', async () => {
    const i = next();
    const person = await provisionPerson(store, tenantId, { externalId: `EXT-${i}`, userName: `u${i}@school.example` });
    const first = await resolve(`sub-${i}`, { [LIS]: { person_sourcedid: `EXT-${i}` } });
    expect(first).toMatchObject({ matchedBy: 'claim', firstLaunch: true });
    expect(first.person).toMatchObject({ id: person.id, status: 'active' });
    expect(first.person!.firstLaunchAt).not.toBeNull();
    const second = await resolve(`sub-${i}`, {});
    expect(second).toMatchObject({ matchedBy: 'link', firstLaunch: false });
    expect(second.person!.id).toBe(person.id);
    const audit = await rows<{ action: string; request_id: string }>(
      store,
      `SELECT action, request_id FROM audit_events WHERE target_id = $1 ORDER BY id`,
      [person.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['person.create', 'person.link', 'person.first_launch']);
    expect(audit[1].request_id).toBe('req-1');
  });

  it('matches the claim against userName case-insensitively when no externalId matches', async () => {
    const i = next();
    const person = await provisionPerson(store, tenantId, { userName: `Jane.${i}@School.example` });
    const r = await resolve(`sub-${i}`, { [LIS]: { person_sourcedid: `jane.${i}@school.example` } });
    expect(r.person!.id).toBe(person.id);
  });

  it('uses a configured custom claim and ignores an unexpanded substitution variable', async () => {
    const i = next();
    const person = await provisionPerson(store, tenantId, { externalId: `SIS-${i}` });
    const policy = { identityClaim: 'custom.sis_id' };
    expect(
      (await rejection(resolve(`sub-x-${i}`, { [CUSTOM]: { sis_id: '$Canvas.user.sisIntegrationId' } }, policy)))
        .reason,
    ).toBe('no_match');
    const r = await resolve(
      `sub-${i}`,
      { [CUSTOM]: { sis_id: `SIS-${i}` }, [LIS]: { person_sourcedid: 'ignored' } },
      policy,
    );
    expect(r.person!.id).toBe(person.id);
  });

  it('matches by email only when the platform is trusted for email and exactly one unlinked person has it', async () => {
    const i = next();
    const email = `only-${i}@school.example`;
    const person = await provisionPerson(store, tenantId, { primaryEmail: email });
    expect((await rejection(resolve(`sub-a-${i}`, { email }))).reason).toBe('no_match');
    const r = await resolve(`sub-b-${i}`, { email: email.toUpperCase() }, { trustEmail: true });
    expect(r).toMatchObject({ matchedBy: 'email' });
    expect(r.person!.id).toBe(person.id);
  });

  it('never guesses between two people with the same email', async () => {
    const i = next();
    const email = `shared-${i}@school.example`;
    await provisionPerson(store, tenantId, { primaryEmail: email, userName: `a${i}` });
    await provisionPerson(store, tenantId, { primaryEmail: email, userName: `b${i}` });
    expect((await rejection(resolve(`sub-${i}`, { email }, { trustEmail: true }))).reason).toBe('no_match');
  });

  it('never guesses between two live people with the same externalId (it is not unique in SCIM)', async () => {
    const i = next();
    await provisionPerson(store, tenantId, { externalId: `DUP-${i}`, userName: `dup-a${i}` });
    await provisionPerson(store, tenantId, { externalId: `DUP-${i}`, userName: `dup-b${i}` });
    const err = await rejection(resolve(`sub-${i}`, { [LIS]: { person_sourcedid: `DUP-${i}` } }, { jitCreate: true }));
    expect(err.reason).toBe('ambiguous');
    // Not even just-in-time creation: a third person would only deepen the duplicate.
    const [{ n }] = await rows<{ n: number }>(
      store,
      `SELECT count(*)::int AS n FROM people WHERE tenant_id = $1 AND external_id = $2`,
      [tenantId, `DUP-${i}`],
    );
    expect(n).toBe(2);
  });

  it('never re-links a person already linked to another sub of the same platform', async () => {
    const i = next();
    await provisionPerson(store, tenantId, { externalId: `EXT-${i}`, primaryEmail: `relink-${i}@school.example` });
    await resolve(`sub-${i}`, { [LIS]: { person_sourcedid: `EXT-${i}` } });
    expect((await rejection(resolve(`other-sub-${i}`, { [LIS]: { person_sourcedid: `EXT-${i}` } }))).reason).toBe(
      'linked_elsewhere',
    );
    // by email the linked person is not a candidate at all
    expect(
      (await rejection(resolve(`third-sub-${i}`, { email: `relink-${i}@school.example` }, { trustEmail: true })))
        .reason,
    ).toBe('no_match');
  });

  it('refuses suspended and deprovisioned people with a 403', async () => {
    for (const status of ['suspended', 'deprovisioned'] as const) {
      const i = next();
      const p = await provisionPerson(store, tenantId, { externalId: `EXT-${i}` });
      await store.sequelize.query(`UPDATE people SET status = $2 WHERE id = $1`, { bind: [p.id, status] });
      const err = await rejection(resolve(`sub-${i}`, { [LIS]: { person_sourcedid: `EXT-${i}` } }));
      expect(httpStatusOf(err)).toBe(403);
      expect(err.details).toMatchObject({ check: 'person_inactive' });
    }
  });

  it('refuses a linked person who was suspended after their first launch', async () => {
    const i = next();
    const p = await provisionPerson(store, tenantId, { externalId: `EXT-${i}` });
    await resolve(`sub-${i}`, { [LIS]: { person_sourcedid: `EXT-${i}` } });
    await store.sequelize.query(`UPDATE people SET status = 'suspended' WHERE id = $1`, { bind: [p.id] });
    expect((await rejection(resolve(`sub-${i}`, {}))).reason).toBe('inactive');
  });

  it('creates a person just in time only when the platform allows it', async () => {
    const i = next();
    expect((await rejection(resolve(`sub-${i}`, { name: 'New Person' }))).reason).toBe('no_match');
    const r = await resolve(
      `sub-${i}`,
      { name: 'New Person', given_name: 'New', email: `jit-${i}@x.example` },
      { jitCreate: true },
    );
    expect(r).toMatchObject({ matchedBy: 'jit', firstLaunch: true });
    expect(r.person).toMatchObject({
      source: 'lti',
      status: 'active',
      displayName: 'New Person',
      primaryEmail: `jit-${i}@x.example`,
    });
  });

  it("never matches another tenant's person", async () => {
    const i = next();
    await provisionPerson(store, otherTenantId, { externalId: `EXT-${i}` });
    expect((await rejection(resolve(`sub-${i}`, { [LIS]: { person_sourcedid: `EXT-${i}` } }))).reason).toBe('no_match');
  });

  it('matches nobody for an anonymous launch', async () => {
    expect(await resolve(null, { email: 'x@y.z' }, { jitCreate: true, trustEmail: true })).toEqual({
      person: null,
      matchedBy: 'anonymous',
      firstLaunch: false,
    });
  });

  it('rolls back the link when the launch transaction fails', async () => {
    const i = next();
    const p = await provisionPerson(store, tenantId, { externalId: `EXT-${i}` });
    await inTransaction(store, async (t) => {
      await resolveLaunchIdentity(store, t, ctx, {
        tenantId,
        platform,
        sub: `sub-${i}`,
        claims: { [LIS]: { person_sourcedid: `EXT-${i}` } },
      });
      throw new Error('boom');
    }).catch(() => undefined);
    expect(await rows(store, `SELECT 1 FROM identity_links WHERE person_id = $1`, [p.id])).toHaveLength(0);
    expect((await rows<{ status: string }>(store, `SELECT status FROM people WHERE id = $1`, [p.id]))[0].status).toBe(
      'provisioned',
    );
  });
});

describe('the launch course', () => {
  const upsert = (contextId: string, sisKeys: string[] = [], title = 'Biology') =>
    inTransaction(store, (t) =>
      upsertLaunchCourse(store, t, ctx, { tenantId, platformId: platform.id, contextId, title, sisKeys }),
    );

  it('creates the course on the first launch and finds it afterwards', async () => {
    const a = await upsert('ctx-create');
    expect(a.outcome).toBe('created');
    const b = await upsert('ctx-create');
    expect(b).toEqual({ courseId: a.courseId, outcome: 'existing' });
  });

  it('adopts a course created earlier with the same SIS key', async () => {
    const [pre] = await rows<{ id: string }>(
      store,
      `INSERT INTO courses (tenant_id, title, external_key) VALUES ($1, 'Chem', 'SIS-CHEM-1') RETURNING id`,
      [tenantId],
    );
    const r = await upsert('ctx-chem', ['SIS-CHEM-1']);
    expect(r).toEqual({ courseId: pre.id, outcome: 'adopted' });
    const [row] = await rows<{ lti_context_id: string }>(store, `SELECT lti_context_id FROM courses WHERE id = $1`, [
      pre.id,
    ]);
    expect(row.lti_context_id).toBe('ctx-chem');
  });

  it("does not adopt another tenant's course with that SIS key", async () => {
    await rows(
      store,
      `INSERT INTO courses (tenant_id, title, external_key) VALUES ($1, 'Other', 'SIS-OTHER') RETURNING id`,
      [otherTenantId],
    );
    expect((await upsert('ctx-other', ['SIS-OTHER'])).outcome).toBe('created');
  });

  it('upserts the membership with the launch roles, source lti, audited only on change', async () => {
    const course = await upsert('ctx-members');
    const p = await provisionPerson(store, tenantId, { externalId: `EXT-${next()}` });
    const up = (roles: string[]) =>
      inTransaction(store, (t) =>
        upsertLaunchMembership(store, t, ctx, { tenantId, courseId: course.courseId, personId: p.id, roles }),
      );
    expect(await up(['Learner'])).toEqual({ changed: true });
    expect(await up(['Learner'])).toEqual({ changed: false });
    expect(await up(['Instructor'])).toEqual({ changed: true });
    const [m] = await rows<{ roles: string[]; source: string }>(
      store,
      `SELECT roles, source FROM course_memberships WHERE person_id = $1`,
      [p.id],
    );
    expect(m).toEqual({ roles: ['Instructor'], source: 'lti' });
    const audit = await rows(
      store,
      `SELECT 1 FROM audit_events WHERE target_type = 'course_membership' AND target_id = $1`,
      [`${course.courseId}:${p.id}`],
    );
    expect(audit).toHaveLength(2);
  });

  it('upserts course and membership in one statement for a known course, and defers an unknown one', async () => {
    const course = await upsert('ctx-known');
    const p = await provisionPerson(store, tenantId, { externalId: `EXT-${next()}` });
    const fast = (contextId: string, roles: string[]) =>
      inTransaction(store, (t) =>
        upsertKnownCourseMembership(store, t, ctx, {
          tenantId,
          platformId: platform.id,
          contextId,
          personId: p.id,
          roles,
        }),
      );
    expect(await fast('ctx-unknown-yet', ['Learner'])).toBeNull();
    expect(await fast('ctx-known', ['Learner'])).toEqual({ courseId: course.courseId, changed: true });
    expect(await fast('ctx-known', ['Learner'])).toEqual({ courseId: course.courseId, changed: false });
    expect(await fast('ctx-known', ['Mentor'])).toEqual({ courseId: course.courseId, changed: true });
    const [m] = await rows<{ roles: string[] }>(store, `SELECT roles FROM course_memberships WHERE person_id = $1`, [
      p.id,
    ]);
    expect(m.roles).toEqual(['Mentor']);
  });
});
