import { QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { BundleRefusedError, importOneRosterBundle } from '../../src/domain/oneroster/import.js';
import { provisionPerson } from '../../src/domain/provisioning.js';
import { createTenant, updateTenant } from '../../src/domain/tenants.js';
import { backendName, createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  COLUMNS,
  classRow,
  csv,
  deltaBundle,
  SAMPLE_ENROLLMENTS,
  SAMPLE_USERS,
  sampleBundle,
  sampleFiles,
  zipBundle,
} from '../support/oneroster-bundle.js';

/**
 * OneRoster CSV bundles into the same people, courses and memberships the other doors use:
 * 1.1 and 1.2, bulk and delta, re-import idempotent, refused whole with a line report, dry run.
 */
let db: TestDatabase;
const ctx = { actor: 'test' };
let seq = 0;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.cleanup());

const newTenant = async () => (await createTenant(db.store, ctx, { slug: `or-${++seq}`, name: `School ${seq}` })).id;
const sql = <T = any>(q: string, bind: unknown[] = []) =>
  db.store.sequelize.query<T & object>(q, { bind, type: QueryTypes.SELECT }) as Promise<T[]>;
const memberships = (tenantId: string) =>
  sql<{ key: string; user: string; roles: string[]; status: string; source: string }>(
    `SELECT c.external_key AS key, p.user_name AS user, m.roles, m.status, m.source FROM course_memberships m
       JOIN courses c ON c.id = m.course_id JOIN people p ON p.id = m.person_id WHERE m.tenant_id = $1 ORDER BY 1, 2`,
    [tenantId],
  );
const people = (tenantId: string) =>
  sql<{ user_name: string; external_id: string; status: string; source: string; primary_email: string | null }>(
    'SELECT user_name, external_id, status, source, primary_email FROM people WHERE tenant_id = $1 ORDER BY user_name',
    [tenantId],
  );
const refused = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(BundleRefusedError);
  return (err as BundleRefusedError).report;
};

describe(`OneRoster CSV import on ${backendName}`, () => {
  for (const version of ['1.1', '1.2'] as const) {
    it(`imports a valid ${version} bundle: people, courses by class sourcedId, LTI roles by enrollment role`, async () => {
      const tenantId = await newTenant();
      const report = await importOneRosterBundle(db.store, ctx, tenantId, await sampleBundle(version));
      expect(report.applied).toBe(true);
      expect(report.version).toBe(version);
      expect(report.ignored).toEqual(['demographics.csv']);
      expect(report.summary.people.created).toBe(6);
      expect(report.summary.courses.created).toBe(2);
      expect(report.summary.memberships.added).toBe(8);
      const ps = await people(tenantId);
      expect(ps.map((p) => [p.user_name, p.external_id, p.status, p.source])).toContainEqual([
        'asmith',
        's1',
        'provisioned',
        'roster',
      ]);
      const courses = await sql('SELECT title, external_key FROM courses WHERE tenant_id = $1 ORDER BY 2', [tenantId]);
      expect(courses).toEqual([
        { title: 'Algebra I - Period 1', external_key: 'class-1' },
        { title: 'Algebra I - Period 2', external_key: 'class-2' },
      ]);
      expect(await memberships(tenantId)).toEqual([
        { key: 'class-1', user: 'asmith', roles: ['Learner'], status: 'active', source: 'roster' },
        { key: 'class-1', user: 'bjones', roles: ['Learner'], status: 'active', source: 'roster' },
        { key: 'class-1', user: 'csmith', roles: ['Mentor'], status: 'active', source: 'roster' },
        { key: 'class-1', user: 'jlee', roles: ['Instructor'], status: 'active', source: 'roster' },
        { key: 'class-1', user: 'rkim', roles: ['TeachingAssistant'], status: 'active', source: 'roster' },
        { key: 'class-2', user: 'asmith', roles: ['Learner'], status: 'active', source: 'roster' },
        { key: 'class-2', user: 'cdiaz', roles: ['Learner'], status: 'active', source: 'roster' },
        { key: 'class-2', user: 'jlee', roles: ['Instructor'], status: 'active', source: 'roster' },
      ]);
      const audit = await sql<{ action: string; n: number }>(
        'SELECT action, count(*)::int AS n FROM audit_events WHERE tenant_id = $1 GROUP BY action ORDER BY action',
        [tenantId],
      );
      expect(audit).toEqual(
        expect.arrayContaining([
          { action: 'course.create', n: 2 },
          { action: 'membership.set', n: 8 },
          { action: 'oneroster.import', n: 1 },
          { action: 'person.create', n: 6 },
        ]),
      );
    });
  }

  it('re-importing the same bundle changes nothing', async () => {
    const tenantId = await newTenant();
    const bundle = await sampleBundle('1.2');
    const first = await importOneRosterBundle(db.store, ctx, tenantId, bundle);
    expect(first.summary.changes).toBeGreaterThan(0);
    const auditBefore = await sql('SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1', [tenantId]);
    const second = await importOneRosterBundle(db.store, ctx, tenantId, bundle);
    expect(second.applied).toBe(true);
    expect(second.summary.changes).toBe(0);
    const auditAfter = await sql('SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1', [tenantId]);
    // only the import's own summary event
    expect(auditAfter[0].n).toBe(auditBefore[0].n + 1);
  });

  it('two imports of one bundle at once make one set of people (imports of a tenant queue)', async () => {
    const tenantId = await newTenant();
    const bundle = await sampleBundle('1.2');
    const [a, b] = await Promise.all([
      importOneRosterBundle(db.store, ctx, tenantId, bundle),
      importOneRosterBundle(db.store, ctx, tenantId, bundle),
    ]);
    expect([a.summary.people.created, b.summary.people.created].sort()).toEqual([0, 6]);
    expect(await people(tenantId)).toHaveLength(6);
  });

  it('matches people SCIM already provisioned by username or email: no second person', async () => {
    const tenantId = await newTenant();
    const scimPerson = (userName: string, email: string, externalId: string) =>
      inTransaction(db.store, (t) =>
        provisionPerson(db.store, t, ctx, tenantId, {
          userName,
          externalId,
          displayName: null,
          givenName: null,
          familyName: null,
          active: true,
          emails: [{ value: email, type: 'work', primary: true }],
          scim: {},
        }),
      );
    const byUserName = await scimPerson('jlee', 'j.lee@idp.example.org', 'entra-1');
    const byEmail = await scimPerson('avery@idp.example.org', 'Avery.Smith@students.example.org', 'entra-2');
    const report = await importOneRosterBundle(db.store, ctx, tenantId, await sampleBundle('1.2'));
    expect(report.summary.people.linked).toBe(2);
    expect(report.summary.people.created).toBe(4);
    const ps = await people(tenantId);
    expect(ps).toHaveLength(6);
    // SCIM's people keep what the IdP said; they gain memberships
    expect(ps.find((p) => p.user_name === 'jlee')).toMatchObject({ external_id: 'entra-1', source: 'scim' });
    const mine = (await memberships(tenantId)).filter((m) => m.user === 'avery@idp.example.org');
    expect(mine.map((m) => [m.key, m.roles])).toEqual([
      ['class-1', ['Learner']],
      ['class-2', ['Learner']],
    ]);
    const links = await sql(
      'SELECT sourced_id, person_id FROM oneroster_records WHERE tenant_id = $1 AND kind = $2 ORDER BY 1',
      [tenantId, 'user'],
    );
    expect(links).toContainEqual({ sourced_id: 't1', person_id: byUserName.person.id });
    expect(links).toContainEqual({ sourced_id: 's1', person_id: byEmail.person.id });
    // The SIS drops the teacher: their roster memberships end, but SCIM's person stays (SCIM owns them).
    const t1 = SAMPLE_USERS.find((u) => u.id === 't1')!;
    const gone = await importOneRosterBundle(
      db.store,
      ctx,
      tenantId,
      await deltaBundle('1.2', { users: [{ ...t1, status: 'tobedeleted' }] }),
    );
    expect(gone.summary.people).toMatchObject({ deprovisioned: 0, unlinked: 1 });
    expect(gone.summary.memberships.ended).toBe(2);
    expect((await people(tenantId)).find((p) => p.user_name === 'jlee')).toMatchObject({ status: 'provisioned' });
    const unlink = await sql('SELECT target_id FROM audit_events WHERE tenant_id = $1 AND action = $2', [
      tenantId,
      'person.oneroster_unlink',
    ]);
    expect(unlink).toEqual([{ target_id: byUserName.person.id }]);
  });

  it('a delta with tobedeleted ends memberships and deprovisions the people the roster made', async () => {
    const tenantId = await newTenant();
    await importOneRosterBundle(db.store, ctx, tenantId, await sampleBundle('1.1'));
    const s2 = SAMPLE_USERS.find((u) => u.id === 's2')!;
    const report = await importOneRosterBundle(
      db.store,
      ctx,
      tenantId,
      await deltaBundle('1.1', {
        users: [{ ...s2, status: 'tobedeleted' }],
        enrollments: [{ ...SAMPLE_ENROLLMENTS.find((e) => e.id === 'e8')!, status: 'tobedeleted' }],
      }),
    );
    expect(report.summary.people.deprovisioned).toBe(1);
    expect(report.summary.memberships.ended).toBe(2);
    const ms = await memberships(tenantId);
    expect(ms.find((m) => m.user === 'bjones')).toMatchObject({ key: 'class-1', status: 'inactive' });
    expect(ms.find((m) => m.user === 'asmith' && m.key === 'class-2')).toMatchObject({ status: 'inactive' });
    expect(ms.find((m) => m.user === 'asmith' && m.key === 'class-1')).toMatchObject({ status: 'active' });
    const bj = await sql(
      'SELECT status, deleted_at IS NOT NULL AS gone FROM people WHERE tenant_id = $1 AND external_id = $2',
      [tenantId, 's2'],
    );
    expect(bj).toEqual([{ status: 'deprovisioned', gone: true }]);
    // The same delta again changes nothing more.
    const again = await importOneRosterBundle(
      db.store,
      ctx,
      tenantId,
      await deltaBundle('1.1', { users: [{ ...s2, status: 'tobedeleted' }] }),
    );
    expect(again.summary.changes).toBe(0);
  });

  it('a bulk file replaces what the previous bulk import brought', async () => {
    const tenantId = await newTenant();
    await importOneRosterBundle(db.store, ctx, tenantId, await sampleBundle('1.2'));
    // class-2 and s3 are gone from the new bulk files; t1 now also teaches class-3
    const users = SAMPLE_USERS.filter((u) => u.id !== 's3');
    const enrollments = [
      ...SAMPLE_ENROLLMENTS.filter((e) => e.classId === 'class-1'),
      { id: 'e9', classId: 'class-3', userId: 't1', role: 'teacher' },
    ];
    const files = sampleFiles('1.2', users, enrollments, [
      classRow('class-1', 'Algebra I - Period 1'),
      classRow('class-3', 'Geometry'),
    ]);
    const report = await importOneRosterBundle(db.store, ctx, tenantId, await zipBundle({ version: '1.2', files }));
    expect(report.summary.people.deprovisioned).toBe(1);
    expect(report.summary.courses.created).toBe(1);
    expect(report.summary.memberships).toEqual({ added: 1, updated: 0, ended: 3 });
    const active = (await memberships(tenantId)).filter((m) => m.status === 'active').map((m) => `${m.key}:${m.user}`);
    expect(active).toEqual([
      'class-1:asmith',
      'class-1:bjones',
      'class-1:csmith',
      'class-1:jlee',
      'class-1:rkim',
      'class-3:jlee',
    ]);
  });

  it('refuses a malformed bundle whole, with file, line, column and why; nothing is written', async () => {
    const tenantId = await newTenant();
    const files = sampleFiles('1.2');
    files.users.text += 'bad1,,,maybe,bad1user,,Bad,One,,,not-an-email,,,,,,,,,,,school-1,\n';
    files.users.text += 's1,,,true,dup,,Dup,Licate,,,,,,,,,,,,,,school-1,\n';
    files.enrollments.text += 'e99,,,class-404,school-1,s1,student,false,,\n';
    files.enrollments.text += 'e98,,,class-1,school-1,s1,wizard,false,,\n';
    files.classes.text = csv(
      COLUMNS.classes.filter((c) => c !== 'title'),
      [],
    );
    const report = await refused(
      importOneRosterBundle(db.store, ctx, tenantId, await zipBundle({ version: '1.2', files })),
    );
    expect(report.applied).toBe(false);
    expect(report.errors).toEqual(
      expect.arrayContaining([
        { file: 'classes.csv', line: 1, column: 'title', message: 'missing column' },
        { file: 'users.csv', line: 8, column: 'enabledUser', message: '"maybe" is not true or false' },
        { file: 'users.csv', line: 8, column: 'email', message: '"not-an-email" is not an email address' },
        { file: 'users.csv', line: 9, column: 'sourcedId', message: '"s1" is also on line 3' },
        expect.objectContaining({ file: 'enrollments.csv', line: 11, column: 'role' }),
      ]),
    );
    expect(await people(tenantId)).toEqual([]);
    expect(await sql('SELECT * FROM courses WHERE tenant_id = $1', [tenantId])).toEqual([]);
    expect(await sql('SELECT * FROM oneroster_imports WHERE tenant_id = $1', [tenantId])).toEqual([]);
  });

  it('refuses enrollments naming users or classes nobody imported', async () => {
    const tenantId = await newTenant();
    const files = sampleFiles('1.1');
    files.enrollments.text += 'e99,,,class-404,school-1,s1,student,false,,\n';
    const report = await refused(
      importOneRosterBundle(db.store, ctx, tenantId, await zipBundle({ version: '1.1', files })),
    );
    expect(report.errors).toEqual([
      {
        file: 'enrollments.csv',
        line: 10,
        column: 'classSourcedId',
        message: 'no class "class-404" in classes.csv or an earlier import',
      },
    ]);
    expect(await people(tenantId)).toEqual([]);
  });

  it('refuses a bundle whose manifest is wrong', async () => {
    const tenantId = await newTenant();
    const noVersion = await zipBundle({
      version: '1.2',
      files: sampleFiles('1.2'),
      manifest: 'propertyName,value\nfile.users,bulk\n',
    });
    const r1 = await refused(importOneRosterBundle(db.store, ctx, tenantId, noVersion));
    expect(r1.errors[0]).toMatchObject({ file: 'manifest.csv', column: 'oneroster.version' });
    const files = sampleFiles('1.2');
    delete (files as Record<string, unknown>).enrollments;
    const missing = await zipBundle({
      version: '1.2',
      files,
      manifest: `propertyName,value\noneroster.version,1.2\nfile.enrollments,bulk\n`,
    });
    const r2 = await refused(importOneRosterBundle(db.store, ctx, tenantId, missing));
    expect(r2.errors).toEqual([
      {
        file: 'manifest.csv',
        line: 3,
        column: 'value',
        message: 'file.enrollments is bulk but the bundle has no enrollments.csv',
      },
    ]);
    await expect(importOneRosterBundle(db.store, ctx, tenantId, Buffer.from('not a zip'))).rejects.toThrow(
      /not a readable zip/,
    );
  });

  it('a dry run reports what would change and writes nothing', async () => {
    const tenantId = await newTenant();
    const report = await importOneRosterBundle(db.store, ctx, tenantId, await sampleBundle('1.2'), { dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.applied).toBe(false);
    expect(report.summary.people.created).toBe(6);
    expect(report.summary.memberships.added).toBe(8);
    expect(await people(tenantId)).toEqual([]);
    expect(await sql('SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1', [tenantId])).toEqual([
      { n: 1 },
    ]);
  });

  it('respects the seat limit: an import that needs more seats than are left is refused whole', async () => {
    const tenantId = await newTenant();
    const slug = `or-${seq}`;
    await updateTenant(db.store, ctx, slug, { seatLimit: 5 });
    await expect(importOneRosterBundle(db.store, ctx, tenantId, await sampleBundle('1.2'))).rejects.toThrow(
      /seat limit of 5/,
    );
    expect(await people(tenantId)).toEqual([]);
  });
});
