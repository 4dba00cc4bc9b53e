import { rememberRosterSource, startRosterSync } from '../../src/domain/roster-sync.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession } from '../../lti/session.js';
import { seedDemo, type DemoSeed } from '../../src/domain/dev-seed.js';
import { listMemberships } from '../../src/domain/memberships.js';
import { exportTenant } from '../../src/domain/tenant-export.js';
import { createApp } from '../../src/http/app.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Every route of the app — read from the router, not from a list kept by hand, so a new route is
 * covered the day it is added — called by school B (its admin token, its SCIM token, an
 * instructor's launch session) with school A's ids in the path and the body. Nothing of A may come
 * back (none of A's ids or names that the caller did not itself send), nothing may be a 5xx, and
 * A's whole export document is byte for byte the same afterwards: zero reads, zero writes.
 */
const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const SECRET_NAME = 'Zed Secretperson';
const SECRET_EMAIL = 'zed.secret@school-a.example';
const SECRET_COURSE = 'Secret Seminar of School A';
const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';

let server: TestServer;
let a: DemoSeed;
let b: DemoSeed;
let aIds: string[];
let aExportBefore: string;
let bSession: string;
let aRefs: Record<string, string>;

async function exportOf(tenantId: string): Promise<string> {
  let doc = '';
  for await (const chunk of exportTenant(server.store, tenantId)) doc += chunk;
  return doc;
}

beforeAll(async () => {
  server = await startTestServer({ DEMO_LMS: 'true', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
  const ctx = { actor: 'test' };
  a = await seedDemo(server.store, ctx, { slug: 'school-a', publicUrl: server.config.publicUrl });
  b = await seedDemo(server.store, ctx, { slug: 'school-b', publicUrl: server.config.publicUrl });
  // A's webhook endpoint, subscribed before A's grant below so that grant leaves a delivery.
  const endpoint = await fetch(`${server.url}/api/v1/webhooks/endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'http://127.0.0.1:9/school-a-hook', eventTypes: ['privileges.changed'] }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  // Names only A has, so a leak of them cannot be B's own data.
  const scimA = (path: string, body: unknown) =>
    fetch(`${server.url}/scim/v2${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.scimToken}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<{ id: string }>);
  const secret = await scimA('/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: SECRET_EMAIL,
    name: { givenName: 'Zed', familyName: 'Secretperson' },
    displayName: SECRET_NAME,
    emails: [{ value: SECRET_EMAIL, primary: true }],
  });
  const group = await scimA('/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Secret Group A',
    members: [{ value: secret.id }],
  });
  const course = await fetch(`${server.url}/api/v1/courses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: SECRET_COURSE, externalKey: 'A-SECRET-1' }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  await fetch(`${server.url}/api/v1/courses/${course.id}/privileges/${secret.id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ allow: ['grades.edit'], deny: [] }),
  });

  const delivery = await server.store.models.WebhookDelivery.findOne({
    where: { tenantId: a.tenant.id },
    raw: true,
  });
  const aPlatform = (await server.store.models.LtiPlatform.findOne({ where: { tenantId: a.tenant.id }, raw: true }))!;
  await rememberRosterSource(server.store, {
    tenantId: a.tenant.id,
    courseId: course.id,
    platformId: aPlatform.id,
    membershipsUrl: 'http://127.0.0.1:9/school-a/memberships',
    serviceVersions: ['2.0'],
  });
  const rosterSync = await startRosterSync(server.store, a.tenant.id, course.id, 'api', 'test');
  const docA = JSON.parse(await exportOf(a.tenant.id)) as { tables: Record<string, Array<Record<string, unknown>>> };
  const platform = docA.tables.lti_platforms[0];
  const admin = docA.tables.tenant_admins[0];
  aRefs = {
    course: course.id,
    person: secret.id,
    group: group.id,
    platform: String(platform.id),
    admin: String(admin.id),
    slug: a.tenant.slug,
    webhookEndpoint: endpoint.id,
    webhookDelivery: String(delivery?.id),
    rosterSync: rosterSync.id,
    scimToken: (await server.store.models.ApiToken.findOne({
      where: { tenantId: a.tenant.id, kind: 'scim' },
      raw: true,
    }))!.id,
  };
  aIds = [...new Set((await exportOf(a.tenant.id)).match(UUID_RE) ?? [])];
  expect(aIds.length).toBeGreaterThan(100);

  const bCourse = b.courses[0].course.id;
  const teacher = (await listMemberships(server.store, b.tenant.id, bCourse)).find((m) =>
    m.roles.includes('Instructor'),
  )!;
  bSession = (
    await issueSession(server.store, server.config.publicUrl, {
      tenantId: b.tenant.id,
      personId: teacher.personId,
      courseId: bCourse,
      roles: [INSTRUCTOR],
    })
  ).token;
  aExportBefore = await exportOf(a.tenant.id);
}, 180_000);
afterAll(async () => server?.close());

/** A's id for each path parameter, by the route it appears in. A parameter nobody mapped fails the test. */
function fill(path: string): string | null {
  return path.replace(/:(\w+)/g, (_, name: string) => {
    if (name === 'id') {
      if (path.startsWith('/api/v1/courses') || path.startsWith('/app/courses')) return aRefs.course;
      if (path.startsWith('/api/v1/people')) return aRefs.person;
      if (path.startsWith('/api/v1/lti/platforms')) return aRefs.platform;
      if (path.startsWith('/api/v1/tenant/scim-tokens')) return aRefs.scimToken;
      if (path.startsWith('/api/v1/webhooks/endpoints')) return aRefs.webhookEndpoint;
      if (path.startsWith('/api/v1/webhooks/deliveries')) return aRefs.webhookDelivery;
      if (/^\/scim\/v2\/users/i.test(path)) return aRefs.person;
      if (/^\/scim\/v2\/groups/i.test(path)) return aRefs.group;
      if (/^\/scim\/v2\/(Schemas|ResourceTypes)/.test(path)) return 'User';
    }
    if (name === 'personRef') return aRefs.person;
    if (name === 'ref') return path.includes('/tenant/admins') ? aRefs.admin : aRefs.person;
    if (name === 'groupId') return aRefs.group;
    if (name === 'syncId') return aRefs.rosterSync;
    if (name === 'tenant') return aRefs.slug;
    if (name === 'role') return 'Instructor';
    if (name === 'file') return 'admin.js';
    throw new Error(`route ${path}: no cross-tenant value for :${name}; map it in fill()`);
  });
}

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** A body that would succeed against B's own rows, aimed at A's. */
function bodyFor(method: string, path: string): unknown {
  const p = path.toLowerCase();
  if (p.includes('/privileges/') || p.includes('/group-privileges/')) return { allow: ['grades.view'], deny: [] };
  if (p.includes('/memberships/')) return { roles: ['Learner'] };
  if (p.endsWith('/enrolments')) return { rows: [{ email: SECRET_EMAIL, roles: ['Learner'], allow: ['grades.edit'] }] };
  if (p.endsWith('/authorize')) return { course: aRefs.course, person: aRefs.person, privilege: 'grades.edit' };
  if (p.endsWith('/merge')) return { into: aRefs.person };
  if (p.endsWith('/tenant/owner') || p.endsWith('/owner')) return { to: aRefs.person };
  if (p.endsWith('/tenant/admins')) return { admin: aRefs.person };
  if (p.endsWith('/wipe')) return { confirm: aRefs.slug };
  if (p.endsWith('/deployments')) return { deploymentId: 'hijack' };
  if (p.startsWith('/api/v1/courses/')) return { title: 'hijacked' };
  if (p.endsWith('/.search'))
    return { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: `id eq "${aRefs.person}"` };
  if (p.endsWith('/bulk'))
    return {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [
        {
          method: 'PATCH',
          path: `/Users/${aRefs.person}`,
          data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
        },
        { method: 'DELETE', path: `/Groups/${aRefs.group}` },
        {
          method: 'POST',
          path: '/Groups',
          bulkId: 'g',
          data: { schemas: [CORE_GROUP], displayName: 'B steals', members: [{ value: aRefs.person }] },
        },
      ],
    };
  if (/^\/scim\/v2\/users/.test(p)) {
    if (method === 'PATCH')
      return { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'hijacked' }] };
    return { schemas: [CORE_USER], userName: SECRET_EMAIL, externalId: 'hijack' };
  }
  if (/^\/scim\/v2\/groups/.test(p)) {
    if (method === 'PATCH')
      return { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: aRefs.person }] }] };
    return { schemas: [CORE_GROUP], displayName: 'B group', members: [{ value: aRefs.person }] };
  }
  return {};
}

function credentialsFor(path: string): Array<{ name: string; headers: Record<string, string> }> {
  if (path.startsWith('/scim/')) return [{ name: 'B SCIM token', headers: { authorization: `Bearer ${b.scimToken}` } }];
  if (path.startsWith('/api/v1') || path.startsWith('/operator'))
    return [
      { name: 'B admin token', headers: { authorization: `Bearer ${b.adminToken}` } },
      { name: 'B session', headers: { authorization: `Bearer ${bSession}` } },
    ];
  return [{ name: 'B session cookie', headers: { cookie: `rb_session=${bSession}` } }];
}

describe('no route crosses tenants', () => {
  it('answers school B with nothing of school A and changes nothing of A, on every route the router has', async () => {
    const app = createApp({
      config: server.config,
      store: server.store,
      logger: pino({ level: 'silent' }),
      readiness: async () => ({ ready: true, checks: {} }) as never,
    });
    const routes = [
      ...new Map(app.routes.filter((r) => r.method !== 'ALL').map((r) => [`${r.method} ${r.path}`, r])).values(),
    ];
    expect(routes.length).toBeGreaterThan(60);
    const calls: string[] = [];
    let succeeded = 0; // B's credentials work: the refusals below are about A, not about a dead token
    const problems: string[] = [];
    // Reads first, writes after, deletes last: a write that wrongly succeeded cannot hide a read leak.
    const order = (m: string) => ({ GET: 0, POST: 1, PUT: 1, PATCH: 1, DELETE: 2 })[m] ?? 1;
    routes.sort((x, y) => order(x.method) - order(y.method));
    for (const route of routes) {
      const path = fill(route.path)!;
      for (const cred of credentialsFor(route.path)) {
        const body =
          route.method === 'GET' || route.method === 'DELETE'
            ? undefined
            : JSON.stringify(bodyFor(route.method, route.path));
        const isScim = route.path.startsWith('/scim/');
        const res = await fetch(`${server.url}${path}`, {
          method: route.method,
          redirect: 'manual',
          headers: {
            ...cred.headers,
            ...(body ? { 'content-type': isScim ? 'application/scim+json' : 'application/json' } : {}),
          },
          body,
        });
        const text = await res.text();
        const sent = `${path} ${body ?? ''}`;
        const label = `${route.method} ${route.path} as ${cred.name} → ${res.status}`;
        calls.push(label);
        if (res.status < 300) succeeded++;
        if (res.status >= 500) problems.push(`${label}: server error ${text.slice(0, 200)}`);
        const leaked = aIds.filter((id) => text.includes(id) && !sent.includes(id));
        if (leaked.length) problems.push(`${label}: returned A's ids ${leaked.slice(0, 3).join(', ')}`);
        for (const name of [SECRET_NAME, SECRET_COURSE, 'Secret Group A'])
          if (text.includes(name)) problems.push(`${label}: returned "${name}"`);
        if (!sent.includes(SECRET_EMAIL) && text.includes(SECRET_EMAIL)) problems.push(`${label}: returned A's email`);
      }
    }
    expect(problems).toEqual([]);
    expect(calls.length).toBeGreaterThan(100);
    expect(succeeded).toBeGreaterThan(30);
    expect(await exportOf(a.tenant.id)).toBe(aExportBefore);
  }, 300_000);
});
