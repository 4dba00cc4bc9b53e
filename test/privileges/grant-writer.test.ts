import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction, type ActorContext } from '../../src/db/store.js';
import { bulkEnrol } from '../../src/domain/bulk-enrolment.js';
import { createCourse } from '../../src/domain/courses.js';
import { createGroup } from '../../src/domain/groups.js';
import { insertPerson } from '../../src/domain/people.js';
import {
  replaceGrants,
  replaceGroupGrants,
  setGroupPrivileges,
  setPersonPrivileges,
  writeGrants,
  type GrantLists,
  type Principal,
} from '../../src/domain/privileges/index.js';
import { NotFoundError } from '../../src/errors.js';
import { backendName, createTestDatabase, type TestDatabase } from '../support/db.js';
import { seedTenant } from '../support/server.js';
import { sqlOn } from './helpers.js';

/**
 * The one grant writer: person grants and group grants are the same set-based write (rows that
 * stay keep their id, one audit event per subject that changed), and a bulk enrolment running
 * beside single writes on the same people neither deadlocks nor leaves a mix of both lists.
 */
let db: TestDatabase;
let tenantId: string;
let admin: Principal;
const ctx: ActorContext = { actor: 'test' };
const sql = <T = any>(q: string, bind: unknown[] = []) => sqlOn(db.store)<T>(q, bind);

beforeAll(async () => {
  db = await createTestDatabase();
  tenantId = (await seedTenant(db.store)).tenant.id;
  admin = { kind: 'admin', tenantId, tokenId: 'test' };
});
afterAll(() => db?.cleanup());

const newCourse = async (title: string) => (await createCourse(db.store, ctx, tenantId, { title })).id;
const newPerson = (externalId: string) =>
  inTransaction(db.store, (t) =>
    insertPerson(db.store, t, ctx, { tenantId, status: 'active', source: 'scim', externalId, userName: externalId }),
  );
const newGroup = (displayName: string) =>
  inTransaction(db.store, (t) =>
    createGroup(db.store, t, ctx, tenantId, { displayName, externalId: null, scim: {}, members: [] }),
  );
const write = (courseId: string, kind: 'person' | 'group', subjectId: string, lists: GrantLists) =>
  inTransaction(
    db.store,
    async (t) =>
      (await writeGrants(db.store, t, ctx, { tenantId, courseId, kind }, [{ subjectId, lists }])).get(subjectId)!,
  );
const rowsOf = (table: 'privilege_grants' | 'group_privilege_grants', column: string, courseId: string, id: string) =>
  sql<{ id: string; privilege: string; effect: string }>(
    `SELECT id, privilege, effect FROM ${table} WHERE course_id = $1 AND ${column} = $2 ORDER BY privilege`,
    [courseId, id],
  );
const auditsOf = (action: string, targetId: string) =>
  sql<{ before: any; after: any }>(
    `SELECT before, after FROM audit_events WHERE action = $1 AND target_id = $2 ORDER BY id`,
    [action, targetId],
  );

describe(`the grant writer (${backendName})`, () => {
  it("makes a group's grants exactly the given set, keeps the rows that stay, and audits each change", async () => {
    const courseId = await newCourse('Chemistry');
    const group = await newGroup('Lab assistants');
    const first = await write(courseId, 'group', group.id, {
      allow: ['grades.view', 'course.view'],
      deny: ['content.edit'],
    });
    expect(first).toEqual({ before: [], changed: ['grades.view', 'course.view', 'content.edit'] });
    const kept = (await rowsOf('group_privilege_grants', 'group_id', courseId, group.id)).find(
      (r) => r.privilege === 'course.view',
    )!;

    const second = await write(courseId, 'group', group.id, { allow: ['course.view', 'content.edit'], deny: [] });
    expect(second.changed.sort()).toEqual(['content.edit', 'grades.view']);
    expect(await rowsOf('group_privilege_grants', 'group_id', courseId, group.id)).toEqual([
      { id: expect.any(String), privilege: 'content.edit', effect: 'allow' },
      { id: kept.id, privilege: 'course.view', effect: 'allow' },
    ]);

    expect(
      (await write(courseId, 'group', group.id, { allow: ['content.edit', 'course.view'], deny: [] })).changed,
    ).toEqual([]);
    expect(await auditsOf('group_privileges.set', `${courseId}/${group.id}`)).toEqual([
      {
        before: { courseId, groupId: group.id, allow: [], deny: [] },
        after: { courseId, groupId: group.id, allow: ['course.view', 'grades.view'], deny: ['content.edit'] },
      },
      {
        before: { courseId, groupId: group.id, allow: ['course.view', 'grades.view'], deny: ['content.edit'] },
        after: { courseId, groupId: group.id, allow: ['content.edit', 'course.view'], deny: [] },
      },
    ]);
  });

  it('writes person grants the same way, alone or several people in one call', async () => {
    const courseId = await newCourse('Biology');
    const [ada, bo] = [await newPerson('W-ADA'), await newPerson('W-BO')];
    await inTransaction(db.store, (t) =>
      replaceGrants(db.store, t, ctx, { tenantId, courseId, personId: ada.id }, { allow: ['grades.view'], deny: [] }),
    );
    const kept = (await rowsOf('privilege_grants', 'person_id', courseId, ada.id))[0];
    const changes = await inTransaction(db.store, (t) =>
      writeGrants(db.store, t, ctx, { tenantId, courseId, kind: 'person' }, [
        { subjectId: ada.id, lists: { allow: ['grades.view'], deny: ['grades.edit'] } },
        { subjectId: bo.id, lists: { allow: [], deny: [] } },
      ]),
    );
    expect(changes.get(ada.id)!.changed).toEqual(['grades.edit']);
    expect(changes.get(bo.id)).toEqual({ before: [], changed: [] });
    expect(await rowsOf('privilege_grants', 'person_id', courseId, ada.id)).toEqual([
      { id: expect.any(String), privilege: 'grades.edit', effect: 'deny' },
      { id: kept.id, privilege: 'grades.view', effect: 'allow' },
    ]);
    expect((await auditsOf('privileges.set', `${courseId}/${ada.id}`)).map((a) => a.after)).toEqual([
      { courseId, personId: ada.id, allow: ['grades.view'], deny: [] },
      { courseId, personId: ada.id, allow: ['grades.view'], deny: ['grades.edit'] },
    ]);
    expect(await auditsOf('privileges.set', `${courseId}/${bo.id}`)).toEqual([]);
  });

  it('refuses a group that is not in the tenant and writes nothing', async () => {
    const courseId = await newCourse('Geology');
    const missing = '00000000-0000-4000-8000-000000000000';
    await expect(
      inTransaction(db.store, (t) =>
        replaceGroupGrants(
          db.store,
          t,
          ctx,
          { tenantId, courseId, groupId: missing },
          { allow: ['course.view'], deny: [] },
        ),
      ),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await sql('SELECT 1 FROM group_privilege_grants WHERE course_id = $1', [courseId])).toEqual([]);
  });
});

describe(`a bulk enrolment beside single grant writes on the same people (${backendName})`, () => {
  it('finishes without deadlock and leaves each person with one whole list, as the audit trail says', async () => {
    const courseId = await newCourse('Concurrency');
    const group = await newGroup('Everyone concurrent');
    const shared: Array<{ id: string }> = [];
    for (let i = 0; i < 24; i++) shared.push(await newPerson(`C-${i}`));
    // 2,400 rows: two chunks of the bulk, with the shared people spread over both.
    const rows = Array.from({ length: 2_400 }, (_, i) =>
      i % 100 === 0
        ? { key: `C-${i / 100}`, roles: ['Learner'], allow: ['grades.view'], deny: ['content.edit'] }
        : { key: `NEW-${i}`, roles: ['Learner'], allow: ['course.view'] },
    );
    const singleLists = [
      { allow: ['grades.edit'], deny: [] },
      { allow: [], deny: ['grades.view'] },
    ];
    let bulkDone = false;
    const bulk = bulkEnrol(db.store, admin, ctx, courseId, { rows }).finally(() => {
      bulkDone = true;
    });
    // Three writers keep writing the shared people (by id: no reference lock to queue them) and
    // the group until the bulk has committed; each does at least one write.
    let writes = 0;
    const writer = async (offset: number) => {
      for (let n = offset; n === offset || !bulkDone; n += 3) {
        const person = shared[shared.length - 1 - (n % shared.length)];
        await setPersonPrivileges(db.store, admin, ctx, {
          courseRef: courseId,
          personRef: person.id,
          body: singleLists[n % 2],
        });
        await setGroupPrivileges(db.store, admin, ctx, {
          courseRef: courseId,
          groupId: group.id,
          body: singleLists[n % 2],
        });
        writes++;
      }
    };
    const [result] = await Promise.all([bulk, writer(0), writer(1), writer(2)]);
    expect(result.outcome).toBe('all');
    expect(writes).toBeGreaterThanOrEqual(3);

    const bulkList = { allow: ['grades.view'], deny: ['content.edit'] };
    for (const person of shared) {
      const grants = await rowsOf('privilege_grants', 'person_id', courseId, person.id);
      const now = {
        allow: grants.filter((g) => g.effect === 'allow').map((g) => g.privilege),
        deny: grants.filter((g) => g.effect === 'deny').map((g) => g.privilege),
      };
      expect([bulkList, ...singleLists]).toContainEqual(now);
      const trail = await auditsOf('privileges.set', `${courseId}/${person.id}`);
      expect(trail.at(-1)!.after).toEqual({ courseId, personId: person.id, ...now });
    }
    const groupNow = await rowsOf('group_privilege_grants', 'group_id', courseId, group.id);
    const groupTrail = await auditsOf('group_privileges.set', `${courseId}/${group.id}`);
    expect(groupTrail.at(-1)!.after).toEqual({
      courseId,
      groupId: group.id,
      allow: groupNow.filter((g) => g.effect === 'allow').map((g) => g.privilege),
      deny: groupNow.filter((g) => g.effect === 'deny').map((g) => g.privilege),
    });
  }, 120_000);
});
