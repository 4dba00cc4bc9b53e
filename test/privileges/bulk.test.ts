import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { insertPerson } from '../../src/domain/people.js';
import { onPostgres } from '../support/db.js';
import { enc, privilegesHarness } from './helpers.js';
import { sqlOn } from './helpers.js';

/**
 * Bulk pre-enrolment: per-row statuses and HTTP codes as Open edX's program enrollment API
 * (200 all ok, 207 mixed, 422 none, 413 too many), atomic per row, idempotent on retry; plus the
 * one-placeholder guarantee when several requests name the same new email at once.
 */
let h: Awaited<ReturnType<typeof privilegesHarness>>;
let courseId: string;
const sql = <T = any>(q: string, bind: unknown[] = []) => sqlOn(h.server.store)<T>(q, bind);

beforeAll(async () => {
  h = await privilegesHarness();
  courseId = (await h.api.post('/courses', { title: 'Physics', externalKey: 'PHY-1' })).body.id;
});
afterAll(() => h?.close());

const live = (userName: string, email: string, externalId?: string) =>
  inTransaction(h.server.store, (t) =>
    insertPerson(
      h.server.store,
      t,
      { actor: 'test' },
      { tenantId: h.tenant.id, status: 'active', source: 'scim', userName, primaryEmail: email, externalId },
    ),
  );

describe('bulk pre-enrolment', () => {
  it('reports each row of a mixed batch and answers 207', async () => {
    const known = await live('known', 'known@school.example', 'K-1');
    await live('dup-a', 'two@school.example');
    await live('dup-b', 'two@school.example');
    const rows = [
      { email: 'new1@school.example', roles: ['Learner'] }, // 0 pending (placeholder)
      { key: 'K-1', roles: ['TeachingAssistant'], allow: ['grades.edit'] }, // 1 created (live, new membership)
      { email: 'not an email' }, // 2 invalid
      { email: 'NEW1@school.example' }, // 3 duplicate of row 0
      { email: 'two@school.example' }, // 4 conflict (two people)
      { email: 'known@school.example' }, // 5 duplicate: same person as row 1
      { key: 'S-77', allow: ['warp.drive'] }, // 6 invalid privilege
      { key: 'S-78', roles: ['Wizard'] }, // 7 invalid role
      { email: 'x@school.example', key: 'X' }, // 8 invalid: both
      { key: 'S-79', deny: ['grades.view'] }, // 9 pending
    ];
    const r = await h.api.post(`/courses/${courseId}/enrolments`, { rows });
    expect(r.status).toBe(207);
    expect(r.body.results.map((x: any) => x.status)).toEqual([
      'pending',
      'created',
      'invalid',
      'duplicate',
      'conflict',
      'duplicate',
      'invalid',
      'invalid',
      'invalid',
      'pending',
    ]);
    expect(r.body.summary).toEqual({
      created: 1,
      updated: 0,
      unchanged: 0,
      pending: 2,
      duplicate: 2,
      conflict: 1,
      invalid: 4,
    });
    expect(r.body.results[4].candidates).toHaveLength(2);
    expect(r.body.results[6].error).toContain('warp.drive');
    expect(r.body.results[1].personId).toBe(known.id);
    // what succeeded is written, and nothing of what failed
    const members = await sql<{ person_id: string; roles: string[] }>(
      `SELECT person_id, roles FROM course_memberships WHERE course_id = $1 ORDER BY roles`,
      [courseId],
    );
    expect(members).toHaveLength(3);
    expect(
      await sql(`SELECT 1 FROM people WHERE external_id IN ('S-77', 'S-78') OR primary_email = 'x@school.example'`),
    ).toHaveLength(0);
    const grants = await sql<{ privilege: string; effect: string }>(
      `SELECT privilege, effect FROM privilege_grants WHERE course_id = $1 ORDER BY privilege`,
      [courseId],
    );
    expect(grants).toEqual([
      { privilege: 'grades.edit', effect: 'allow' },
      { privilege: 'grades.view', effect: 'deny' },
    ]);
  });

  it('is idempotent: the same batch again creates nobody and rewrites no row', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({
      email: `retry${i}@school.example`,
      roles: ['Learner'],
      allow: ['grades.view'],
    }));
    const first = await h.api.post(`/courses/${courseId}/enrolments`, { rows });
    expect(first.status).toBe(200);
    expect(first.body.summary.pending).toBe(50);
    const snapshot = () =>
      sql(
        `SELECT id, xmin::text AS x FROM privilege_grants WHERE course_id = $1 UNION ALL SELECT id, xmin::text FROM course_memberships WHERE course_id = $1 ORDER BY 1`,
        [courseId],
      );
    const before = await snapshot();
    const people = (await sql(`SELECT count(*)::int AS n FROM people`))[0].n;
    const again = await h.api.post(`/courses/${courseId}/enrolments`, { rows });
    expect(again.status).toBe(200);
    expect(again.body.results.map((x: any) => x.personId)).toEqual(first.body.results.map((x: any) => x.personId));
    expect((await sql(`SELECT count(*)::int AS n FROM people`))[0].n).toBe(people);
    expect(await snapshot()).toEqual(before);
    expect((await sql(`SELECT count(*)::int AS n FROM invitations WHERE email LIKE 'retry%'`))[0].n).toBe(50);
  });

  it('says which rows of people already in the course changed and which were already as asked', async () => {
    for (const n of [1, 2, 3]) await live(`same${n}`, `same${n}@school.example`);
    const rows = [1, 2, 3].map((n) => ({
      email: `same${n}@school.example`,
      roles: ['Learner'],
      allow: ['grades.view'],
    }));
    const first = await h.api.post(`/courses/${courseId}/enrolments`, { rows });
    expect(first.body.results.map((x: any) => x.status)).toEqual(['created', 'created', 'created']);
    const again = await h.api.post(`/courses/${courseId}/enrolments`, { rows });
    expect(again.status).toBe(200);
    expect(again.body.results.map((x: any) => x.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    const changed = [
      { ...rows[0], roles: ['TeachingAssistant'] }, // membership changes
      { ...rows[1], allow: ['grades.view', 'grades.edit'] }, // grants change
      rows[2],
    ];
    const third = await h.api.post(`/courses/${courseId}/enrolments`, { rows: changed });
    expect(third.body.results.map((x: any) => x.status)).toEqual(['updated', 'updated', 'unchanged']);
    expect(third.body.summary).toMatchObject({ updated: 2, unchanged: 1 });
  });

  it('answers 422 when no row succeeds and 413 over 10,000 rows', async () => {
    const none = await h.api.post(`/courses/${courseId}/enrolments`, { rows: [{ email: 'bad' }, {}] });
    expect(none.status).toBe(422);
    expect(none.body.summary.invalid).toBe(2);
    const tooMany = await h.api.post(`/courses/${courseId}/enrolments`, {
      rows: Array.from({ length: 10_001 }, (_, i) => ({ key: `k${i}` })),
    });
    expect(tooMany.status).toBe(413);
    expect((await h.api.post(`/courses/${courseId}/enrolments`, { rows: 'nope' })).status).toBe(400);
  });
});

describe('concurrent grants to the same new email', () => {
  it(
    'create exactly one placeholder',
    async () => {
      const course2 = (await h.api.post('/courses', { title: 'Parallel' })).body.id;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2
            ? h.api.put(`/courses/${course2}/privileges/${enc('email:Racer@school.example')}`, {
                allow: ['course.view'],
              })
            : h.api.post(`/courses/${course2}/enrolments`, {
                rows: [{ email: 'racer@school.example', roles: ['Learner'] }],
              }),
        ),
      );
      expect(results.map((r) => r.status).every((s) => s === 200 || s === 201)).toBe(true);
      const people = await sql<{ id: string }>(
        `SELECT id FROM people WHERE tenant_id = $1 AND primary_email = 'racer@school.example'`,
        [h.tenant.id],
      );
      expect(people).toHaveLength(1);
      expect(results.filter((r) => r.status === 201)).toHaveLength(
        results.filter((r) => r.body?.created === true).length,
      );
      expect((await sql(`SELECT count(*)::int AS n FROM invitations WHERE person_id = $1`, [people[0].id]))[0].n).toBe(
        1,
      );
    },
    onPostgres ? 30_000 : 60_000,
  );
});

describe('concurrent writes to one person', () => {
  it('queue rather than collide: every request answers 200 and the last lists win', async () => {
    const course3 = (await h.api.post('/courses', { title: 'Race 2' })).body.id;
    const p = await live('racer2', 'racer2@school.example');
    const results = await Promise.all(
      ['grades.view', 'grades.edit', 'members.view', 'content.edit', 'course.view', 'members.manage'].map((priv) =>
        h.api.put(`/courses/${course3}/privileges/${p.id}`, { allow: [priv] }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await sql(`SELECT 1 FROM privilege_grants WHERE course_id = $1`, [course3])).toHaveLength(1);
  });
});

describe('a full-size bulk', () => {
  it('takes 10,000 rows in one request (one transaction, bounded locks)', async () => {
    const big = (await h.api.post('/courses', { title: 'Big' })).body.id;
    const rows = Array.from({ length: 10_000 }, (_, i) =>
      i % 2
        ? { email: `big${i}@school.example`, roles: ['Learner'], allow: ['grades.view'] }
        : { key: `BIG-${i}`, roles: ['Learner'] },
    );
    const r = await h.api.post(`/courses/${big}/enrolments`, { rows });
    expect(r.status).toBe(200);
    expect(r.body.summary.pending).toBe(10_000);
    expect((await sql(`SELECT count(*)::int AS n FROM course_memberships WHERE course_id = $1`, [big]))[0].n).toBe(
      10_000,
    );
  }, 120_000);
});
