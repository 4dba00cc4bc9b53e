import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/connect.js';
import { backendName, testDatabaseConfig } from '../support/db.js';
import { runCli } from '../support/processes.js';

/** `rosterbridge import`: the bulk pre-enrolment of a CSV, with a progress bar on stderr. */
describe(`rosterbridge import (${backendName})`, () => {
  let env: Record<string, string>;
  let dataDir: string;
  let cleanup: () => Promise<void>;
  let config: Awaited<ReturnType<typeof testDatabaseConfig>>['config'];

  beforeAll(async () => {
    ({ config, cleanup } = await testDatabaseConfig());
    dataDir = config.dataDir;
    env = { DATA_DIR: dataDir, ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}) };
    expect((await runCli(['tenant', 'create', '--slug', 'csv-school', '--name', 'CSV School'], env)).code).toBe(0);
    // A course with a SIS key, as the LMS or the API would have created it.
    const db = await connectDatabase(config);
    await db.sequelize.query(
      `INSERT INTO courses (tenant_id, title, external_key) SELECT id, 'Art', 'ART-1' FROM tenants WHERE slug = 'csv-school'`,
    );
    await db.close();
  });
  afterAll(() => cleanup?.());

  it('imports good rows, reports the bad ones by CSV line, and is idempotent', async () => {
    const file = join(dataDir, 'art.csv');
    await writeFile(
      file,
      [
        'email,key,roles,allow,deny',
        'ann@school.example,,Learner,grades.view,',
        ',S-1,TeachingAssistant,grades.edit;members.view,',
        'broken-email,,,,',
        '"bob@school.example",,"Learner|Mentor",,content.edit',
        '',
      ].join('\r\n'),
    );
    const first = await runCli(['import', '--tenant', 'csv-school', '--course', 'ART-1', file], env);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/\[#+\] 100% 4\/4 rows/);
    expect(first.stdout).toContain('3 pending');
    expect(first.stdout).toMatch(/4\s+email:broken-email\s+invalid\s+malformed email/);

    const again = await runCli(['import', '--tenant', 'csv-school', '--course', 'ART-1', file, '--json'], env);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout);
    expect(result.results.map((r: { status: string }) => r.status)).toEqual([
      'pending',
      'pending',
      'invalid',
      'pending',
    ]);
    expect(result.results[0].personId).toBeTruthy();

    const db = await connectDatabase(config);
    const [people] = await db.sequelize.query(`SELECT count(*)::int AS n FROM people WHERE status = 'invited'`);
    const [grants] = await db.sequelize.query(`SELECT privilege, effect FROM privilege_grants ORDER BY privilege`);
    await db.close();
    expect(people).toEqual([{ n: 3 }]);
    expect(grants).toEqual([
      { privilege: 'content.edit', effect: 'deny' },
      { privilege: 'grades.edit', effect: 'allow' },
      { privilege: 'grades.view', effect: 'allow' },
      { privilege: 'members.view', effect: 'allow' },
    ]);
  });

  it('refuses an unknown column, an unknown course and a malformed file', async () => {
    const file = join(dataDir, 'bad.csv');
    await writeFile(file, 'mail,roles\nx@y.z,Learner\n');
    const r = await runCli(['import', '--tenant', 'csv-school', '--course', 'ART-1', file], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown CSV column mail');
    await writeFile(file, 'email\nx@school.example\n');
    const nocourse = await runCli(['import', '--tenant', 'csv-school', '--course', 'NOPE', file], env);
    expect(nocourse.code).toBe(2);
    expect(nocourse.stderr).toContain('No course key:NOPE');
    await writeFile(file, 'email\n"x@school.example,\n');
    const unclosed = await runCli(['import', '--tenant', 'csv-school', '--course', 'ART-1', file], env);
    expect(unclosed.code).toBe(2);
    expect(unclosed.stderr).toContain('the CSV file is malformed: Quote Not Closed');
  });
});
