import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { insertPerson } from '../../src/domain/people.js';
import { replaceGrants } from '../../src/domain/privileges/index.js';
import { createTenant } from '../../src/domain/tenants.js';
import { backendName, createTestDatabase, type TestDatabase } from '../support/db.js';

const ctx = { actor: 'test' };

describe(`a privilege grant carries its person's external keys by association on ${backendName}`, () => {
  let t: TestDatabase;
  let ids: { tenantId: string; courseId: string; personId: string; platformId: string };

  beforeAll(async () => {
    t = await createTestDatabase();
    const { models } = t.store;
    const tenant = await createTenant(t.store, ctx, { slug: 'north-high', name: 'North High' });
    const tenantId = tenant.id;
    ids = await inTransaction(t.store, async (tx) => {
      const person = await insertPerson(t.store, tx, ctx, {
        tenantId,
        status: 'active',
        source: 'scim',
        userName: 'ada@north.example',
        externalId: 'SIS-1815',
        primaryEmail: 'ada@north.example',
      });
      await models.PersonEmail.bulkCreate(
        [
          { tenantId, personId: person.id, value: 'Ada@North.example', type: 'work', isPrimary: true, position: 0 },
          { tenantId, personId: person.id, value: 'ada@home.example', type: 'home', position: 1 },
        ],
        { transaction: tx },
      );
      const platform = await models.LtiPlatform.create(
        {
          tenantId,
          issuer: 'https://canvas.example',
          clientId: '10000000000001',
          authLoginUrl: 'https://canvas.example/auth',
          authTokenUrl: 'https://canvas.example/token',
          jwksUrl: 'https://canvas.example/jwks',
        },
        { transaction: tx },
      );
      await models.IdentityLink.create(
        { tenantId, personId: person.id, platformId: platform.id, sub: 'canvas-user-42', matchedBy: 'claim' },
        { transaction: tx },
      );
      const course = await models.Course.create({ tenantId, title: 'Algebra I' }, { transaction: tx });
      await replaceGrants(
        t.store,
        tx,
        ctx,
        { tenantId, courseId: course.id, personId: person.id },
        { allow: ['grades.edit'], deny: [] },
      );
      return { tenantId, courseId: course.id, personId: person.id, platformId: platform.id };
    });
  });
  afterAll(() => t?.cleanup());

  it('loads the grant with its course, its person, and the person’s emails and identity links', async () => {
    const grant = await t.store.models.PrivilegeGrant.findOne({
      where: { tenantId: ids.tenantId, courseId: ids.courseId, privilege: 'grades.edit' },
      include: [{ association: 'course' }, { association: 'person', include: ['emails', 'identityLinks'] }],
      order: [
        [
          { model: t.store.models.Person, as: 'person' },
          { model: t.store.models.PersonEmail, as: 'emails' },
          'position',
          'ASC',
        ],
      ],
    });
    expect(grant).not.toBeNull();
    expect(grant!.effect).toBe('allow');
    expect(grant!.course?.title).toBe('Algebra I');
    const person = grant!.person!;
    expect(person).toMatchObject({ id: ids.personId, externalId: 'SIS-1815', userName: 'ada@north.example' });
    expect(person.emails?.map((e) => [e.value, e.valueLower, e.type, e.isPrimary])).toEqual([
      ['Ada@North.example', 'ada@north.example', 'work', true],
      ['ada@home.example', 'ada@home.example', 'home', false],
    ]);
    expect(person.identityLinks?.map((l) => [l.platformId, l.sub, l.matchedBy])).toEqual([
      [ids.platformId, 'canvas-user-42', 'claim'],
    ]);
  });

  it('reaches the same grant from the person and from the course', async () => {
    const { models } = t.store;
    const person = await models.Person.findByPk(ids.personId, { include: ['grants', 'memberships'] });
    expect(person?.grants?.map((g) => [g.courseId, g.privilege, g.effect])).toEqual([
      [ids.courseId, 'grades.edit', 'allow'],
    ]);
    expect(person?.memberships).toEqual([]);
    const course = await models.Course.findByPk(ids.courseId, { include: ['grants', 'memberships'] });
    expect(course?.grants?.map((g) => g.personId)).toEqual([ids.personId]);
  });

  it('walks a group to its members and its grants', async () => {
    const { models } = t.store;
    const group = await models.Group.create({ tenantId: ids.tenantId, displayName: 'Maths teachers' });
    await models.GroupMember.create({
      tenantId: ids.tenantId,
      groupId: group.id,
      memberType: 'person',
      memberId: ids.personId,
    });
    await models.GroupPrivilegeGrant.create({
      tenantId: ids.tenantId,
      courseId: ids.courseId,
      groupId: group.id,
      privilege: 'grades.view',
      effect: 'allow',
      grantedBy: 'test',
    });
    const loaded = await models.Group.findByPk(group.id, { include: ['members', 'grants'] });
    expect(loaded?.members?.map((m) => [m.memberType, m.memberId])).toEqual([['person', ids.personId]]);
    expect(loaded?.grants?.map((g) => [g.courseId, g.privilege])).toEqual([[ids.courseId, 'grades.view']]);
  });
});
