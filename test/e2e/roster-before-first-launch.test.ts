import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionPerson, resourceLaunch, ROLE, rows, spec, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { peopleAndLinks } from '../nrps/helpers.js';
import { apiClient } from '../privileges/helpers.js';
import { backendName } from '../support/db.js';
import { member, NRPS_CLAIM, startNrpsPlatform, type NrpsPlatform } from '../support/nrps-platform.js';
import { runLaunch } from '../support/platform-emulator.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { chromiumPresent, contextWithSession, launchChromium, seriousViolations } from '../web/browser.js';

/**
 * The product's promise for a school without SCIM, end to end on the real server (issue #10): the
 * LMS's roster reaches us before anyone but the teacher has launched (NRPS, synced on the job
 * queue after the teacher's launch); the teacher finds a student who has never signed in on the
 * course page, in a real browser; that student's first launch takes the returning path (their
 * link was made by the sync: no new person, no new link); and the school's other systems hear
 * `roster.synced` and `person.realized`, signed per Standard Webhooks.
 */
let env: LtiEnv;
let nrps: NrpsPlatform;
let receiver: WebhookReceiver;

beforeAll(async () => {
  nrps = await startNrpsPlatform();
  env = await startLtiEnv(
    { authTokenUrl: nrps.tokenUrl },
    {},
    { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', JOBS_POLL_INTERVAL_MS: '500' },
  );
  nrps.trustTool(`${env.toolUrl}/lti/jwks`);
  receiver = await startWebhookReceiver();
  const endpoint = await apiClient(env.server, env.adminToken).post('/webhooks/endpoints', {
    url: receiver.url,
    eventTypes: ['roster.synced', 'person.realized'],
  });
  expect(endpoint.status).toBe(201);
  receiver.secret = endpoint.body.secret;
  // The teacher came from the school's IdP; the students only exist in the LMS so far.
  await provisionPerson(env.store, env.tenant.id, {
    externalId: 'T-1',
    userName: 'tina@school.example',
    displayName: 'Tina Teacher',
    primaryEmail: 'tina@school.example',
  });
}, 120_000);
afterAll(async () => {
  await receiver?.close();
  await env?.close();
  await nrps?.close();
});

const launch = (sub: string, roles: string[], sourcedId?: string) =>
  runLaunch(
    env.emu,
    spec(
      resourceLaunch(env, { sub, roles, contextId: 'chem', sourcedId, extra: { [NRPS_CLAIM]: nrps.claim('chem') } }),
    ),
    { toolUrl: env.toolUrl },
  );

describe(`a course rostered by the LMS before its students sign in (${backendName})`, { timeout: 180_000 }, () => {
  let teacher: Awaited<ReturnType<typeof launch>>;

  it("syncs the roster on the job queue after the teacher's launch and tells the school's systems", async () => {
    nrps.setRoster('chem', [
      member('lms-tina', 'Instructor'),
      member('lms-uma', 'Learner', { name: 'Uma Student', email: 'uma@school.example' }),
      member('lms-vic', 'Learner', { name: 'Vic Student' }),
    ]);
    teacher = await launch('lms-tina', [ROLE.instructor], 'T-1');
    expect(teacher.launch!.status).toBe(303);
    const [synced] = await receiver.waitFor((r) => r.payload?.type === 'roster.synced', 1, 60_000);
    expect(synced.verified).toBe(true);
    expect(synced.payload!.data).toMatchObject({ source: 'nrps', added: 2, errors: 0 });
    // It ran as a job on the queue, not in the request. pg-boss records the outcome after the
    // handler returns, so the webhook can arrive before the job reads 'completed'.
    const completedSyncs = async () =>
      (
        await rows<{ n: number }>(
          env.store,
          `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'roster.sync' AND state = 'completed'`,
        )
      )[0].n;
    await expect.poll(completedSyncs, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!chromiumPresent)('shows the teacher a student who has never signed in, in plain words', async () => {
    const browser = await launchChromium();
    try {
      const context = await contextWithSession(browser, env, teacher.browser.cookies.get('rb_session') ?? null);
      const page = await context.newPage();
      const location = teacher.launch!.headers.get('location')!;
      expect((await page.goto(env.toolUrl + location))!.status()).toBe(200);
      const uma = page.locator('#people-body tr[data-person-name="Uma Student"]');
      await expect.poll(() => uma.count(), { timeout: 15_000 }).toBe(1);
      expect(await uma.locator('.badge').textContent()).toBe('waiting for first sign-in');
      expect(await uma.textContent()).toContain('uma@school.example');
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("takes the student's first launch down the returning path and announces it, signed", async () => {
    const count = () => peopleAndLinks(env.store, env.tenant.id);
    const before = await count();
    const [link] = await rows<{ person_id: string; matched_by: string }>(
      env.store,
      `SELECT person_id, matched_by FROM identity_links WHERE tenant_id = $1 AND sub = 'lms-uma'`,
      [env.tenant.id],
    );
    expect(link.matched_by).toBe('roster');

    const uma = await launch('lms-uma', [ROLE.learner]);
    expect(uma.launch!.status).toBe(303);
    expect(await count()).toEqual(before); // found by the sync's link: nobody new, no new link
    const [person] = await rows<{ id: string; status: string; first_launch_at: Date | null }>(
      env.store,
      'SELECT id, status, first_launch_at FROM people WHERE id = $1',
      [link.person_id],
    );
    expect(person).toMatchObject({ status: 'active' });
    expect(person.first_launch_at).not.toBeNull();

    const [realized] = await receiver.waitFor(
      (r) =>
        r.payload?.type === 'person.realized' &&
        (r.payload.data as { person?: { id?: string } }).person?.id === link.person_id,
      1,
      30_000,
    );
    expect(realized.verified).toBe(true);
    expect(realized.payload!.data).toMatchObject({ previousStatus: 'invited', person: { id: link.person_id } });
  });
});
