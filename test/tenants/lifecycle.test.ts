import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTenant, importTenant } from '../../src/domain/tenant-export.js';
import { restoreTenant, wipeTenant } from '../../src/domain/tenant-lifecycle.js';
import { deleteTenant } from '../../src/domain/tenants.js';
import { apiClient, scim, sqlOn } from '../privileges/helpers.js';
import { backendName, testDatabaseConfig } from '../support/db.js';
import { runCli } from '../support/processes.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

const operator = { actor: 'operator:test' };
const userSchema = 'urn:ietf:params:scim:schemas:core:2.0:User';

async function documentOf(server: TestServer, ref: string): Promise<string> {
  let text = '';
  for await (const chunk of exportTenant(server.store, ref)) text += chunk;
  return text;
}
/** A document as a stream in small pieces, as a file or an upload arrives. */
const linesOf = (text: string) => Readable.from(text.match(/[\s\S]{1,100}/g) ?? []);

/** A school with something in every exported table: people, emails, groups, courses, grants, LMS, audit. */
async function populate(server: TestServer, slug: string) {
  const seeded = await seedTenant(server.store, slug);
  const api = apiClient(server, seeded.adminToken);
  const people = [];
  for (const n of [1, 2, 3]) {
    people.push(
      await scim(server, seeded.scimToken, 'POST', '/Users', {
        schemas: [userSchema],
        userName: `person${n}@${slug}.example`,
        externalId: `SIS-${n}`,
        name: { givenName: `Given${n}`, familyName: 'Ünïcødé "quoted"' },
        emails: [{ value: `person${n}@${slug}.example`, type: 'work', primary: true }],
      }),
    );
  }
  const group = await scim(server, seeded.scimToken, 'POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Teachers',
    members: [{ value: people[0].id }, { value: people[1].id }],
  });
  const course = (await api.post('/courses', { title: 'Algebra' })).body.id;
  expect((await api.put(`/courses/${course}/memberships/${people[1].id}`, { roles: ['Learner'] })).status).toBe(200);
  expect((await api.put(`/courses/${course}/privileges/${people[0].id}`, { allow: ['grades.edit'] })).status).toBe(200);
  // A grant for someone who has not signed in yet: a placeholder, and an invitation for them.
  const placeholder = await api.put(`/courses/${course}/privileges/email:newcomer@${slug}.example`, {
    allow: ['grades.view'],
  });
  expect(placeholder.status).toBe(201);
  expect((await api.put(`/courses/${course}/group-privileges/${group.id}`, { allow: ['members.view'] })).status).toBe(
    200,
  );
  expect(
    (
      await api.post('/lti/platforms', {
        issuer: `https://lms.${slug}.example`,
        clientId: 'client-1',
        deploymentId: 'deployment-1',
        authLoginUrl: `https://lms.${slug}.example/auth`,
        authTokenUrl: `https://lms.${slug}.example/token`,
        jwksUrl: `https://lms.${slug}.example/jwks`,
      })
    ).status,
  ).toBe(201);
  // A merged placeholder: its merged_into points at another person of the same table.
  const other = await api.put(`/courses/${course}/privileges/email:second@${slug}.example`, { deny: ['grades.edit'] });
  expect((await api.post(`/people/${other.body.person.id}/merge`, { into: people[2].id })).status).toBe(200);
  return { ...seeded, api, people, course };
}

/** The tenant tables still holding rows of a tenant, from the catalogue (not from the code under test). */
async function rowsLeft(server: TestServer, tenantId: string): Promise<Record<string, number>> {
  const sql = sqlOn(server.store);
  const tables = await sql<{ table_name: string }>(
    `SELECT table_name::text FROM information_schema.columns
      WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY 1`,
  );
  const left: Record<string, number> = {};
  for (const { table_name } of tables) {
    const [{ n }] = await sql(`SELECT count(*)::int AS n FROM "${table_name}" WHERE tenant_id = $1`, [tenantId]);
    if (n) left[table_name] = n;
  }
  return left;
}

describe(`a tenant's lifecycle (${backendName})`, { timeout: 120_000 }, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it('exports every row a school owns, wipes it out leaving the other school byte for byte, and imports it back identically', async () => {
    const north = await populate(server, 'north');
    const south = await populate(server, 'south');

    const document = await documentOf(server, 'north');
    const parsed = JSON.parse(document);
    expect(parsed).toMatchObject({ format: 'rosterbridge-tenant-export', schemaVersion: 1 });
    expect(parsed.tenant).toMatchObject({ id: north.tenant.id, slug: 'north' });
    expect(parsed.tables.people.length).toBe(5); // 3 from SCIM, a waiting newcomer, a merged placeholder
    for (const table of [
      'person_emails',
      'groups',
      'group_members',
      'courses',
      'course_memberships',
      'privilege_grants',
      'group_privilege_grants',
      'invitations',
      'lti_platforms',
      'lti_deployments',
      'audit_events',
    ]) {
      expect(parsed.tables[table]?.length, table).toBeGreaterThan(0);
    }
    // No secrets leave the database.
    expect(parsed.tables.api_tokens).toBeUndefined();
    expect(parsed.tables.invitations[0].token_hash).toBeUndefined();
    expect(document).not.toContain(north.adminToken);
    expect(JSON.stringify(parsed.tables).includes(south.tenant.id)).toBe(false);
    // One row per line: what lets import read it without holding it.
    expect(document.split('\n').length).toBeGreaterThan(
      Object.values(parsed.tables as Record<string, unknown[]>).flat().length,
    );
    expect(await documentOf(server, north.tenant.id)).toBe(document);

    const southBefore = await documentOf(server, 'south');
    await expect(wipeTenant(server.store, operator, 'north', 'south')).rejects.toThrow(/confirm with its slug "north"/);
    const wiped = await wipeTenant(server.store, operator, 'north', 'north');
    expect(wiped.rows.people).toBe(5);
    expect(await rowsLeft(server, north.tenant.id)).toEqual({});
    expect(await sqlOn(server.store)('SELECT 1 FROM tenants WHERE id = $1', [north.tenant.id])).toEqual([]);
    expect(await documentOf(server, 'south')).toBe(southBefore);
    const [record] = await sqlOn(server.store)(
      `SELECT actor, action, target_tenant_slug, detail FROM operator_audit_events WHERE target_tenant_id = $1`,
      [north.tenant.id],
    );
    expect(record).toMatchObject({ actor: 'operator:test', action: 'tenant.wipe', target_tenant_slug: 'north' });
    expect(record.detail.rows).toMatchObject({ people: 5, tenants: 1, api_tokens: 2 });
    // The wiped school's tokens are gone with it.
    expect((await north.api.get('/courses')).status).toBe(401);

    const imported = await importTenant(server.store, operator, linesOf(document));
    expect(imported.rows.people).toBe(5);
    expect(await documentOf(server, 'north')).toBe(document);
    expect(await documentOf(server, 'south')).toBe(southBefore);
    // The merged placeholder still points at the person it was merged into.
    const [merged] = await sqlOn(server.store)(
      `SELECT merged_into FROM people WHERE tenant_id = $1 AND status = 'merged'`,
      [north.tenant.id],
    );
    expect(merged.merged_into).toBe(north.people[2].id);
    // New audit events continue after the imported ones (the id sequence moved past them).
    const token = await seedTenant(server.store, 'east');
    expect((await apiClient(server, token.adminToken).post('/courses', { title: 'x' })).status).toBe(201);
  });

  it('refuses to import over a tenant that exists, or a document that is not an export', async () => {
    const west = await populate(server, 'west');
    const document = await documentOf(server, 'west');
    await expect(importTenant(server.store, operator, linesOf(document))).rejects.toThrow(/exists here; wipe it/);
    await expect(importTenant(server.store, operator, linesOf('{"format":"other"}\n'))).rejects.toThrow(
      /Not a tenant export \(line 1\)/,
    );
    const truncated = document.split('\n').slice(0, 4).join('\n').replace(/,$/, '');
    await wipeTenant(server.store, operator, 'west', 'west');
    await expect(importTenant(server.store, operator, linesOf(`${truncated}\n{not json`))).rejects.toThrow(/not JSON/);
    // Nothing of the failed import stayed.
    expect(await rowsLeft(server, west.tenant.id)).toEqual({});
    // Into a database where the slug was taken meanwhile: under another slug.
    await seedTenant(server.store, 'west');
    await expect(importTenant(server.store, operator, linesOf(document))).rejects.toThrow(/slug "west" is taken/);
    const renamed = await importTenant(server.store, operator, linesOf(document), { slug: 'west-2' });
    expect(renamed.tenant).toMatchObject({ id: west.tenant.id, slug: 'west-2' });
  });

  it("soft delete stops the school's tokens; restore brings them back, under a new slug if the old one was taken", async () => {
    const lake = await populate(server, 'lake');
    const scimList = () =>
      fetch(`${server.url}/scim/v2/Users`, { headers: { authorization: `Bearer ${lake.scimToken}` } });
    await deleteTenant(server.store, operator, 'lake');
    expect((await scimList()).status).toBe(401);
    expect((await lake.api.get('/courses')).status).toBe(401);

    const restored = await restoreTenant(server.store, operator, 'lake');
    expect(restored).toMatchObject({ id: lake.tenant.id, slug: 'lake' });
    expect((await scimList()).status).toBe(200);
    expect((await lake.api.get('/courses')).status).toBe(200);
    await expect(restoreTenant(server.store, operator, 'lake')).rejects.toThrow(/not deleted/);

    await deleteTenant(server.store, operator, 'lake');
    await seedTenant(server.store, 'lake'); // a new school took the slug
    const again = await restoreTenant(server.store, operator, lake.tenant.id);
    expect(again).toMatchObject({ id: lake.tenant.id, slug: 'lake-restored' });
    const audit = await sqlOn(server.store)(
      `SELECT action FROM audit_events WHERE tenant_id = $1 AND action LIKE 'tenant.%' ORDER BY id`,
      [lake.tenant.id],
    );
    expect(audit.map((a) => a.action)).toEqual([
      'tenant.create',
      'tenant.delete',
      'tenant.restore',
      'tenant.delete',
      'tenant.restore',
    ]);
  });
});

describe(`rosterbridge tenant export | wipe | import (${backendName})`, { timeout: 180_000 }, () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let dir: string;
  beforeAll(async () => {
    const db = await testDatabaseConfig();
    env = { DATA_DIR: db.config.dataDir };
    if (db.config.databaseUrl) env.DATABASE_URL = db.config.databaseUrl;
    cleanup = db.cleanup;
    dir = await mkdtemp(join(tmpdir(), 'rb-export-'));
  });
  afterAll(async () => {
    await cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips a school through a file', async () => {
    expect((await runCli(['tenant', 'create', '--slug', 'hill', '--name', 'Hill School'], env)).code).toBe(0);
    const first = await runCli(['tenant', 'export', '--tenant', 'hill'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).tenant).toMatchObject({ slug: 'hill', name: 'Hill School' });
    const file = join(dir, 'hill.json');
    await writeFile(file, first.stdout);

    const wiped = await runCli(['tenant', 'wipe', '--tenant', 'hill', '--confirm', 'hill', '--json'], env);
    expect(wiped.code).toBe(0);
    expect(JSON.parse(wiped.stdout).rows).toMatchObject({ tenants: 1, audit_events: 1 });

    const imported = await runCli(['tenant', 'import', file], env);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/Imported tenant hill/);
    const second = await runCli(['tenant', 'export', '--tenant', 'hill'], env);
    expect(second.stdout).toBe(await readFile(file, 'utf8'));
  });
});
