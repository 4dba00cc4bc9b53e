import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession } from '../../lti/session.js';
import { LTI_CLAIM, runLaunch } from '../support/platform-emulator.js';
import { provisionPerson, resourceLaunch, ROLE, spec, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { apiClient, enc, sqlOn, type Api } from '../privileges/helpers.js';

/**
 * A real browser (Debian's chromium driven by playwright-core; never a downloaded browser): a
 * teacher launches from the LMS, lands on the course admin page, sees the course's people with
 * allow/deny/effective, finds a colleague with the search box and grants them a privilege, then
 * uses "Can't find the person you're looking for?" to grant someone who is not here yet.
 */
const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) console.warn(`test/web skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

describe.skipIf(!available)('course admin page in a real browser', () => {
  let env: LtiEnv;
  let api: Api;
  let browser: Browser;
  let courseId: string;

  beforeAll(async () => {
    env = await startLtiEnv();
    api = apiClient(env.server, env.adminToken);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    courseId = (await api.post('/courses', { title: 'Biology 101', externalKey: 'SIS-BIO-101' })).body.id;
    await provisionPerson(env.store, env.tenant.id, {
      externalId: 'T-9',
      userName: 'tess@school.example',
      displayName: 'Tess Teacher',
      primaryEmail: 'tess@school.example',
    });
    await provisionPerson(env.store, env.tenant.id, {
      externalId: 'S-7',
      userName: 'sam@school.example',
      displayName: 'Sam Student',
      primaryEmail: 'sam@school.example',
    });
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  it('lists, searches, grants, and grants anyway to someone not here yet', async () => {
    const launch = await runLaunch(
      env.emu,
      spec(
        resourceLaunch(env, {
          sub: 'lms-tess',
          roles: [ROLE.instructor],
          sourcedId: 'T-9',
          contextId: 'ctx-bio',
          extra: { [`${LTI_CLAIM}lis`]: { person_sourcedid: 'T-9', course_offering_sourcedid: 'SIS-BIO-101' } },
        }),
      ),
      { toolUrl: env.toolUrl },
    );
    const location = launch.launch!.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/app/courses/${courseId}#lti_ticket=`));

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // the browser logs the deliberate 400 below as a console error; script errors are what matter
    await page.goto(env.toolUrl + location);

    await expect.poll(() => page.textContent('#course-title')).toBe('Biology 101');
    await expect.poll(() => page.textContent('#who')).toBe('Signed in as Tess Teacher');
    expect(page.url()).not.toContain('lti_ticket'); // the ticket is spent and removed from the address bar
    const tessRow = page.locator('#people tbody tr', { hasText: 'Tess Teacher' });
    await expect.poll(() => tessRow.textContent()).toContain('privileges.manage');
    expect(await tessRow.textContent()).toContain('Instructor');

    // search → select → grant
    await page.fill('#search', 'sam');
    await page.click('#search-form button');
    const result = page.locator('#results li', { hasText: 'Sam Student' });
    await result.locator('button').click();
    await page.check('#grant-allow input[value="grades.view"]');
    await page.check('#grant-deny input[value="content.edit"]');
    await page.click('#grant-form button[type=submit]');
    await expect.poll(() => page.textContent('#status')).toBe('Saved for Sam Student.');
    const samRow = page.locator('#people tbody tr', { hasText: 'Sam Student' });
    await expect.poll(() => samRow.locator('.allow').allTextContents()).toEqual(['grades.view']);
    expect(await samRow.locator('.deny').allTextContents()).toEqual(['content.edit']);

    // "Can't find the person you're looking for?"
    await page.fill('#cantfind-ref', 'newkid@school.example');
    await page.check('#cantfind-allow input[value="course.view"]');
    await page.click('#cantfind-form button[type=submit]');
    await expect.poll(() => page.textContent('#status')).toContain('was not here yet');
    const newRow = page.locator('#people tbody tr', { hasText: 'newkid@school.example' });
    await expect.poll(() => newRow.textContent()).toContain('invited');

    const viaApi = await api.get(`/courses/${courseId}/privileges/${enc('email:newkid@school.example')}`);
    expect(viaApi.body).toMatchObject({ person: { status: 'invited' }, allow: ['course.view'], effective: [] });
    const audit = await api.get(`/audit?course=${courseId}&action=privileges.set`);
    expect(audit.body.items.every((e: { actor: string }) => e.actor.startsWith('person:'))).toBe(true);

    // a malformed email is refused with a readable message
    await page.fill('#cantfind-ref', 'not@valid');
    await page.click('#cantfind-form button[type=submit]');
    await expect.poll(() => page.textContent('#status')).toContain('Malformed email');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lets a learner who launched accept an invitation sent to another address of theirs', async () => {
    // The course admin granted by a private address; the school knows the learner by another one.
    const placeholder = (
      await api.put(`/courses/${courseId}/privileges/${enc('email:lee.home@example.org')}`, { allow: ['grades.view'] })
    ).body.person;
    const [mail] = await sqlOn(env.store)<{ body: string }>(
      `SELECT body FROM outbox WHERE recipient = 'lee.home@example.org'`,
    );
    const invitation = /invitation=([\w-]+)/.exec(mail.body)![1];
    const lee = await provisionPerson(env.store, env.tenant.id, {
      externalId: 'S-8',
      userName: 'lee@school.example',
      displayName: 'Lee Learner',
    });
    const launch = await runLaunch(
      env.emu,
      spec(
        resourceLaunch(env, {
          sub: 'lms-lee',
          roles: [ROLE.learner],
          sourcedId: 'S-8',
          contextId: 'ctx-bio',
          extra: { [`${LTI_CLAIM}lis`]: { person_sourcedid: 'S-8', course_offering_sourcedid: 'SIS-BIO-101' } },
        }),
      ),
      { toolUrl: env.toolUrl },
    );
    const location = launch.launch!.headers.get('location')!;
    expect(location).toMatch(/^\/app\/welcome#lti_ticket=/);
    const page = await browser.newPage();
    await page.goto(`${env.toolUrl}/app/welcome?invitation=${invitation}${location.slice(location.indexOf('#'))}`);
    await expect.poll(() => page.textContent('#welcome')).toBe('Welcome, Lee Learner');
    expect(await page.locator('#privileges li').allTextContents()).toEqual(['course.view']);
    await page.click('#accept');
    await expect.poll(() => page.textContent('#status')).toBe('Invitation accepted.');
    await expect.poll(() => page.locator('#privileges li').allTextContents()).toEqual(['course.view', 'grades.view']);
    expect((await api.get(`/people/${placeholder.id}`)).body.id).toBe(lee.id); // merged into Lee
    await page.close();
  });

  it('also signs in with a session handed over in the fragment (platform storage flow)', async () => {
    const [tess] = await sqlOn(env.store)<{ id: string }>(`SELECT id FROM people WHERE external_id = 'T-9'`);
    const { token } = await issueSession(env.store, env.toolUrl, {
      tenantId: env.tenant.id,
      personId: tess.id,
      courseId,
      roles: [ROLE.instructor],
    });
    const page = await browser.newPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}#rb_session=${encodeURIComponent(token)}`);
    await expect.poll(() => page.textContent('#course-title')).toBe('Biology 101');
    await expect.poll(() => page.locator('#people tbody tr', { hasText: 'Sam Student' }).count()).toBe(1);
    await page.close();
  });

  it('shows the welcome page with sign-in help to someone who is not signed in', async () => {
    const page = await browser.newPage();
    await page.goto(`${env.toolUrl}/app/welcome?invitation=rbi_abcdefghijklmnop`);
    await expect.poll(() => page.isVisible('#signin-help')).toBe(true);
    const csp = (await page.request.get(`${env.toolUrl}/app/welcome`)).headers()['content-security-policy'];
    expect(csp).toContain("script-src 'nonce-");
    await page.close();
  });
});
