import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo, type DemoSeed } from '../../src/domain/dev-seed.js';
import { freePort } from '../support/processes.js';
import { Browser } from '../support/platform-emulator.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/**
 * `rosterbridge dev seed` with DEMO_LMS=true: a newcomer sees every surface working — the API and
 * SCIM with the printed tokens, and a real LTI launch from the stand-in LMS into the course page,
 * where a person who had never signed in finds the privileges granted to them beforehand.
 */
describe('the demo seed and its stand-in LMS', () => {
  let server: TestServer;
  let seed: DemoSeed;
  let toolUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    toolUrl = `http://127.0.0.1:${port}`;
    server = await startTestServer({ PORT: String(port), PUBLIC_URL: toolUrl, DEMO_LMS: 'true' });
    seed = await seedDemo(server.store, { actor: 'test' }, { slug: 'demo', publicUrl: toolUrl });
  }, 120_000);
  afterAll(async () => server?.close());

  const api = (path: string, token: string) =>
    fetch(`${toolUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('creates the demo school with its people, groups, courses and tokens', async () => {
    expect(seed.counts).toEqual({ people: 50, provisioned: 30, waiting: 20, groups: 5, courses: 3, grants: 9 });
    const users = (await (await api('/scim/v2/Users?count=1', seed.scimToken)).json()) as { totalResults: number };
    expect(users.totalResults).toBe(30); // placeholders are not the IdP's people
    const groups = (await (await api('/scim/v2/Groups?count=1', seed.scimToken)).json()) as { totalResults: number };
    expect(groups.totalResults).toBe(5);
    const courses = (await (await api('/api/v1/courses', seed.adminToken)).json()) as { items: unknown[] };
    expect(courses.items).toHaveLength(3);
    const admins = (await (await api('/api/v1/tenant/admins', seed.adminToken)).json()) as {
      items: Array<{ role: string; name: string }>;
    };
    expect(admins.items.map((a) => `${a.role}:${a.name}`)).toEqual([`owner:${seed.owner}`, 'admin:Demo hosting desk']);
    const first = seed.courses[0];
    const privileges = await api(`/api/v1/courses/${first.course.id}/privileges`, seed.adminToken);
    expect(privileges.status).toBe(200);
    expect(JSON.stringify(await privileges.json())).toContain(first.waiting[0].email);
  });

  it('refuses a second seed of the same slug and leaves the first intact', async () => {
    await expect(seedDemo(server.store, { actor: 'test' }, { slug: 'demo', publicUrl: toolUrl })).rejects.toThrow(
      /already exists/,
    );
    const courses = (await (await api('/api/v1/courses', seed.adminToken)).json()) as { items: unknown[] };
    expect(courses.items).toHaveLength(3);
  });

  it('lists courses and people in plain words, with a launch link per person', async () => {
    const res = await fetch(`${toolUrl}/dev/lms?tenant=demo`);
    expect(res.status).toBe(200);
    const page = await res.text();
    for (const c of seed.courses) expect(page).toContain(c.course.title);
    expect(page).toContain('waiting for first sign-in');
    const visibleText = page.replace(/<[^>]+>/g, ' ');
    expect(visibleText).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
  });

  it('lists only schools that registered the stand-in LMS', async () => {
    const other = await seedTenant(server.store);
    expect((await fetch(`${toolUrl}/dev/lms?tenant=${other.tenant.slug}`)).status).toBe(404);
    const second = await seedDemo(server.store, { actor: 'test' }, { slug: 'demo-two', publicUrl: toolUrl });
    expect(second.platform.deploymentId).not.toBe(seed.platform.deploymentId);
    expect((await fetch(`${toolUrl}/dev/lms?tenant=demo-two`)).status).toBe(200);
  });

  async function launchAs(courseId: string, personId: string) {
    const browser = new Browser();
    const start = await browser.fetch(`${toolUrl}/dev/lms/launch?tenant=demo&course=${courseId}&person=${personId}`);
    expect(start.status).toBe(302);
    const login = await browser.fetch(start.headers.get('location')!);
    expect(login.status).toBe(302);
    const auth = await browser.fetch(login.headers.get('location')!);
    expect(auth.status).toBe(200);
    const launch = await browser.submitForm(await auth.text());
    return { browser, launch };
  }

  async function memberId(courseId: string, email: string): Promise<string> {
    const list = (await (await api(`/api/v1/courses/${courseId}/memberships`, seed.adminToken)).json()) as {
      items: Array<{ personId: string; person?: { primaryEmail: string | null } }>;
    };
    const m = list.items.find((x) => x.person?.primaryEmail === email);
    if (!m) throw new Error(`${email} is not a member`);
    return m.personId;
  }

  it('launches the instructor through the full LTI sign-in into the seeded course', async () => {
    const first = seed.courses[0];
    const { launch } = await launchAs(first.course.id, await memberId(first.course.id, first.instructor.email));
    expect(launch.status).toBe(303);
    expect(launch.headers.get('location')).toMatch(new RegExp(`^/app/courses/${first.course.id}#lti_ticket=`));
  });

  it('gives a waiting person the privileges granted before their first sign-in', async () => {
    const first = seed.courses[0];
    const waiting = first.waiting[0];
    const personId = await memberId(first.course.id, waiting.email);
    const { launch } = await launchAs(first.course.id, personId);
    expect(launch.status).toBe(303);
    const ticket = launch.headers.get('location')!.split('#lti_ticket=')[1];
    const redeemed = await fetch(`${toolUrl}/lti/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' },
      body: JSON.stringify({ ticket }),
    });
    const { token } = (await redeemed.json()) as { token: string };
    const me = (await (await api('/api/v1/me', token)).json()) as {
      courseId: string;
      person: { id: string; status: string };
      effective: string[];
    };
    expect(me.courseId).toBe(first.course.id);
    expect(me.person).toMatchObject({ id: personId, status: 'active' });
    expect(me.effective).toEqual(expect.arrayContaining(['grades.view', 'grades.edit']));
  });

  it('does not serve the stand-in LMS unless DEMO_LMS is on', async () => {
    const plain = await startTestServer();
    try {
      expect((await fetch(`${plain.url}/dev/lms`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
