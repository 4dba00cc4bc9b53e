import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/domain/tokens.js';
import { updateTenant } from '../../src/domain/tenants.js';
import { failedCheck, resourceLaunch, spec, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { runLaunch } from '../support/platform-emulator.js';

/**
 * A school's seat limit counts its live people — provisioned, waiting for a first sign-in,
 * active, suspended — and not those who left. Every door refuses a new person past it with a clear
 * error and writes nothing: SCIM (also inside Bulk), a course admin's placeholder, bulk
 * pre-enrolment (per row), and a just-in-time launch. Adopting a placeholder takes no new seat,
 * and concurrent creates cannot overshoot.
 */
let env: LtiEnv;
let scimToken: string;
const LIMIT = 5;

beforeAll(async () => {
  env = await startLtiEnv({ jitCreate: true }, {}, { SCIM_RATE_LIMIT_PER_MINUTE: '100000' });
  scimToken = (await createToken(env.store, { actor: 'test' }, { tenantId: env.tenant.id, kind: 'scim' })).token;
  await updateTenant(env.store, { actor: 'test' }, env.tenant.slug, { seatLimit: LIMIT });
}, 120_000);
afterAll(async () => env?.close());

const scim = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${env.toolUrl}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${env.toolUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${env.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
};
const user = (userName: string) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName });
const livePeople = () => env.store.models.Person.count({ where: { tenantId: env.tenant.id, deletedAt: null } });

describe('seat limits', () => {
  let courseId: string;
  const ids: string[] = [];

  it('counts people the IdP pushed and placeholders a course admin made', async () => {
    for (const n of [1, 2, 3]) {
      const r = await scim('POST', '/Users', user(`seat${n}@school.example`));
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    courseId = (await api('POST', '/courses', { title: 'Seats' })).body.id;
    const placeholder = await api('PUT', `/courses/${courseId}/privileges/email:waiting@school.example`, {
      allow: ['grades.view'],
      deny: [],
    });
    expect(placeholder.status).toBe(201);
    expect(await livePeople()).toBe(4);
  });

  it('gives bulk pre-enrolment a per-row answer once the seats run out', async () => {
    const r = await api('POST', `/courses/${courseId}/enrolments`, {
      rows: ['b', 'c', 'd'].map((n) => ({ email: `${n}@school.example`, roles: ['Learner'] })),
    });
    expect(r.status).toBe(207);
    expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(['pending', 'conflict', 'conflict']);
    expect(r.body.results[1].error).toMatch(/seat limit of 5/);
    expect(await livePeople()).toBe(LIMIT);
  });

  it('refuses a new person at every door when the school is full, writing nothing', async () => {
    const one = await scim('POST', '/Users', user('late@school.example'));
    expect(one.status).toBe(403);
    expect(one.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '403',
      detail: expect.stringMatching(/seat limit of 5/),
    });

    const bulk = await scim('POST', '/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: ['x', 'y'].map((n) => ({
        method: 'POST',
        path: '/Users',
        bulkId: n,
        data: user(`${n}@school.example`),
      })),
    });
    expect(bulk.body.Operations.map((o: { status: string }) => o.status)).toEqual(['403', '403']);

    const admin = await api('PUT', `/courses/${courseId}/privileges/email:another@school.example`, {
      allow: ['grades.view'],
      deny: [],
    });
    expect(admin.status).toBe(403);
    expect(admin.body).toMatchObject({ title: 'seat_limit_reached', seatLimit: LIMIT });

    const jit = await runLaunch(
      env.emu,
      spec(resourceLaunch(env, { sub: 'jit-newcomer', email: 'newcomer@school.example' })),
      { toolUrl: env.toolUrl },
    );
    expect(jit.launch?.status).toBe(403);
    expect(await failedCheck(jit.launch!)).toBeTruthy();
    expect(await livePeople()).toBe(LIMIT);
  });

  it('lets the IdP adopt a waiting placeholder and its first launch happen when full: no new seat', async () => {
    const adopted = await scim('POST', '/Users', user('waiting@school.example'));
    expect(adopted.status).toBe(201);
    expect(await livePeople()).toBe(LIMIT);
  });

  it('frees a seat when someone leaves', async () => {
    expect((await scim('DELETE', `/Users/${ids[0]}`)).status).toBe(204);
    expect((await scim('POST', '/Users', user('replacement@school.example'))).status).toBe(201);
    expect(await livePeople()).toBe(LIMIT);
  });

  it('never overshoots with concurrent creates', async () => {
    await updateTenant(env.store, { actor: 'test' }, env.tenant.slug, { seatLimit: LIMIT + 3 });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, n) => scim('POST', '/Users', user(`rush${n}@school.example`))),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 403)).toHaveLength(7);
    expect(await livePeople()).toBe(LIMIT + 3);
  });
});
