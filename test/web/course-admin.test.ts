import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession } from '../../lti/session.js';
import { provisionPerson, ROLE, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { apiClient, enc, sqlOn, type Api } from '../privileges/helpers.js';
import {
  chromiumPresent,
  CHROMIUM,
  contextWithSession,
  type Launched,
  launchAs,
  launchChromium,
  screenshotPath,
  seriousViolations,
} from './browser.js';

/**
 * The course admin page in a real browser, after real launches through the platform emulator: an
 * instructor searches the school, gets "Can't find the person you're looking for?", grants by
 * email and finds the person waiting for their first sign-in after a reload; sets a privilege to
 * deny and sees the effective result change with its reason; uploads a 200-row CSV; reads the
 * history. A learner gets a 403 page (with the cookie) or the same refusal (cookieless storage
 * flow); nobody signed in gets 401. axe-core runs on every view; one flow is done by keyboard only.
 */
if (!chromiumPresent) console.warn(`test/web skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const BIO = { contextId: 'ctx-bio', sisCourse: 'SIS-BIO-101' };
/** Waits as a person would: the page calls the API, which is slower on a loaded machine. */
const poll = <T>(fn: () => T | Promise<T>, o: { timeout?: number } = {}) => expect.poll(fn, { timeout: 10_000, ...o });
const noForms = (page: Page) => page.locator('form, select, input, textarea, button').count();

describe.skipIf(!chromiumPresent)('course admin page in a real browser', () => {
  let env: LtiEnv;
  let api: Api;
  let browser: Browser;
  let courseId: string;
  let tess: Launched;
  let sam: Launched;

  async function teacherPage(width = 1280) {
    const context = await contextWithSession(browser, env, tess.cookie, width);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    return { page, errors, close: () => context.close() };
  }
  const peopleRow = (page: Page, name: string) => page.locator(`#people-body tr[data-person-name="${name}"]`);
  const notice = (page: Page) => page.locator('#notice').textContent();

  beforeAll(async () => {
    env = await startLtiEnv();
    api = apiClient(env.server, env.adminToken);
    browser = await launchChromium();
    courseId = (await api.post('/courses', { title: 'Biology 101', externalKey: BIO.sisCourse })).body.id;
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
    await provisionPerson(env.store, env.tenant.id, {
      externalId: 'R-1',
      userName: 'rita@school.example',
      displayName: 'Rita Reader',
      primaryEmail: 'rita@school.example',
    });
    tess = await launchAs(env, { sub: 'lms-tess', roles: [ROLE.instructor], sourcedId: 'T-9', ...BIO });
    // Sam has opened the course once as a learner: active, with the Learner role's defaults.
    sam = await launchAs(env, { sub: 'lms-sam', roles: [ROLE.learner], sourcedId: 'S-7', ...BIO });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  it('opens from the launch with the people, human labels and a CSP naming the platform', async () => {
    expect(tess.location).toMatch(new RegExp(`^/app/courses/${courseId}#lti_ticket=`));
    const { page, errors, close } = await teacherPage();
    const res = await page.goto(env.toolUrl + tess.location);
    expect(res!.status()).toBe(200);
    const csp = res!.headers()['content-security-policy'];
    expect(csp).toContain(`frame-ancestors 'self' ${new URL(env.emu.issuer).origin}`);
    expect(csp).not.toMatch(/frame-ancestors[^;]*\*/);
    expect(csp).not.toContain('unsafe-inline');

    await poll(() => page.textContent('#who')).toBe('Signed in as Tess Teacher');
    expect(page.url()).not.toContain('lti_ticket'); // the ticket is spent and gone from the address bar
    const tessRow = peopleRow(page, 'Tess Teacher');
    await poll(() => tessRow.count()).toBe(1);
    expect(await tessRow.locator('.badge').textContent()).toBe('active');
    expect(await tessRow.textContent()).toContain('tess@school.example');
    // the catalogue's words as headers, the key only as a hint
    expect(await page.locator('#people thead abbr[title="grades.edit"]').textContent()).toBe('Enter and change grades');
    // no ids or raw keys as text anywhere
    // biome-ignore lint/performance/useDomNodeTextContent: what is on screen, not the page's JSON data element
    const text = (await page.locator('body').innerText()) ?? '';
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
    expect(text).not.toContain('grades.edit');
    expect(await seriousViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await close();
  });

  it('searches, shows the banner in place, grants by email; after a reload the person waits for first sign-in', async () => {
    const { page, errors, close } = await teacherPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}`); // the cookie alone signs in
    await poll(() => peopleRow(page, 'Tess Teacher').count()).toBe(1);
    expect(await page.locator('#cantfind').count()).toBe(0); // no banner before a search finds nobody

    // a search that finds someone: add them with the same controls
    await page.fill('#search', 'rita');
    await page.press('#search', 'Enter');
    const found = page.locator('#search-results li', { hasText: 'Rita Reader' });
    await found.getByLabel('See grades', { exact: true }).selectOption('allow');
    await found.getByRole('button', { name: 'Add Rita Reader to this course' }).click();
    await poll(() => notice(page)).toBe('Saved for Rita Reader.');
    await poll(() => peopleRow(page, 'Rita Reader').count()).toBe(1);
    // someone already in the course is changed in the table, not added twice
    await page.fill('#search', 'sam');
    await page.press('#search', 'Enter');
    await poll(() => page.locator('#search-results li', { hasText: 'Sam Student' }).textContent()).toContain(
      'already in this course',
    );

    // a search that finds nobody: the banner appears in place, pre-filled
    await page.fill('#search', 'newkid@school.example');
    await page.click('form[role=search] button');
    const banner = page.locator('#cantfind');
    await poll(() => banner.locator('h3').textContent()).toBe('Can’t find the person you’re looking for?');
    expect(await banner.getByLabel('Email or school id').inputValue()).toBe('newkid@school.example');
    expect(await seriousViolations(page)).toEqual([]);
    await banner.getByLabel('See the course', { exact: true }).selectOption('allow');
    await banner.getByRole('button', { name: 'Save for this person' }).click();
    await poll(() => notice(page)).toContain('is not here yet');
    await poll(() => page.locator('#cantfind').count()).toBe(0);

    await page.reload();
    const row = peopleRow(page, 'newkid@school.example');
    await poll(() => row.locator('.badge').textContent()).toBe('waiting for first sign-in');
    // what was granted shows as holding from their first sign-in; the rest as not allowed
    const granted = row.locator('.eff[data-privilege="course.view"]');
    expect(await granted.getAttribute('data-effective')).toBe('from first sign-in');
    expect(await granted.textContent()).toContain('◷ from first sign-in');
    expect(await row.locator('.eff[data-privilege="grades.view"]').getAttribute('data-effective')).toBe('denied');
    const viaApi = await api.get(`/courses/${courseId}/privileges/${enc('email:newkid@school.example')}`);
    expect(viaApi.body).toMatchObject({ person: { status: 'invited' }, allow: ['course.view'], effective: [] });

    // the waiting person's invitation can be sent again from their row
    await row.getByRole('button', { name: 'Resend invitation to newkid@school.example' }).click();
    await poll(() => notice(page)).toBe('Invitation sent to newkid@school.example (2 times so far).');
    const mails = await sqlOn(env.store)<{ n: string }>(
      `SELECT count(*) AS n FROM outbox WHERE recipient = 'newkid@school.example'`,
    );
    expect(Number(mails[0].n)).toBe(2);
    expect(errors).toEqual([]);
    await close();
  });

  it('shows the candidates when several people share an email, and saves for the one picked', async () => {
    for (const [id, name] of [
      ['S-21', 'Kim Park'],
      ['S-22', 'Kim Lee'],
    ])
      await provisionPerson(env.store, env.tenant.id, {
        externalId: id,
        userName: `${id.toLowerCase()}@school.example`,
        displayName: name,
        primaryEmail: 'family@home.example',
      });
    const { page, close } = await teacherPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    await poll(() => peopleRow(page, 'Tess Teacher').count()).toBe(1);
    await page.fill('#search', 'nobody-by-this-name');
    await page.press('#search', 'Enter');
    const banner = page.locator('#cantfind');
    await banner.getByLabel('Email or school id').fill('family@home.example');
    await banner.getByLabel('See grades', { exact: true }).selectOption('allow');
    await banner.getByRole('button', { name: 'Save for this person' }).click();
    const pick = banner.locator('.candidates');
    await poll(async () => (await pick.locator('button').allTextContents()).sort()).toEqual([
      'Kim Lee (school id S-22)',
      'Kim Park (school id S-21)',
    ]);
    await pick.getByRole('button', { name: 'Kim Lee (school id S-22)' }).click();
    await poll(() => notice(page)).toBe('Saved for Kim Lee.');
    expect((await api.get(`/courses/${courseId}/privileges/${enc('key:S-22')}`)).body.allow).toEqual(['grades.view']);
    expect((await api.get(`/courses/${courseId}/privileges/${enc('key:S-21')}`)).body.allow).toEqual([]);
    await close();
  });

  it('saves a cell at once: deny changes the effective result and its reason; a refusal rolls back', async () => {
    const { page, errors, close } = await teacherPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    const sam = peopleRow(page, 'Sam Student');
    const cell = sam.getByLabel('See grades for Sam Student');
    await poll(() => cell.inputValue()).toBe('inherit');
    const effective = sam.locator('.eff[data-privilege="grades.view"]');
    const tip = effective.locator('.tip');
    expect(await effective.getAttribute('data-effective')).toBe('denied');
    expect(await tip.textContent()).toBe('Not allowed: no role, group or grant of theirs gives it.');
    expect(await sam.locator('.eff[data-privilege="course.view"] .tip').textContent()).toBe(
      'Allowed: allowed by the role Learner.',
    );

    await cell.selectOption('allow');
    await poll(() => effective.getAttribute('data-effective')).toBe('allowed');
    expect(await tip.textContent()).toBe('Allowed: allowed by their own setting in this course.');
    await cell.selectOption('deny');
    await poll(() => effective.getAttribute('data-effective')).toBe('denied');
    await poll(() => notice(page)).toBe('Saved: See grades is now “deny” for Sam Student.');
    // the reason shows on keyboard focus (and on hover)
    expect(await tip.isVisible()).toBe(false);
    await effective.focus();
    expect(await tip.isVisible()).toBe(true);
    expect(await tip.textContent()).toBe('Not allowed: denied by their own setting in this course.');
    await page.locator('#search').focus();
    expect(await tip.isVisible()).toBe(false);
    const viaApi = await api.get(`/courses/${courseId}/privileges/${enc('key:S-7')}`);
    expect(viaApi.body).toMatchObject({ allow: [], deny: ['grades.view'] });

    // Tess is the course's only manager: denying herself privileges.manage is refused and undone
    const own = peopleRow(page, 'Tess Teacher').getByLabel('Grant and deny privileges in the course for Tess Teacher');
    await own.selectOption('deny');
    await poll(() => notice(page)).toContain('Not saved for Tess Teacher');
    expect(await notice(page)).toContain('last holder');
    expect(await own.inputValue()).toBe('inherit');
    expect(await page.locator('#notice').getAttribute('role')).toBe('alert');
    expect(errors).toEqual([]);
    await close();
  });

  it('tells the course history in plain words', async () => {
    const { page, close } = await teacherPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    const history = page.locator('#history li');
    await poll(() => history.allTextContents()).toContainEqual(
      expect.stringMatching(/^Tess Teacher denied See grades to Sam Student/),
    );
    const lines = await history.allTextContents();
    expect(lines).toContainEqual(expect.stringMatching(/^Tess Teacher granted See grades to Sam Student/));
    expect(lines).toContainEqual(expect.stringMatching(/^Tess Teacher granted See grades to Rita Reader/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^Tess Teacher granted See the course to newkid@school\.example/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^Tess Teacher granted See grades to Kim Lee/));
    expect(lines).toContainEqual(expect.stringMatching(/^Tess Teacher invited newkid@school\.example/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^Tess Teacher sent newkid@school\.example their invitation again/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^A school administrator set up the course/));
    expect(await page.locator('#history').textContent()).not.toMatch(/person:|[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(await page.isVisible('#history-more')).toBe(false); // all of it fits one page
    await close();
  });

  it('works by keyboard alone: search, banner, choose, save', async () => {
    const { page, errors, close } = await teacherPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    await poll(() => peopleRow(page, 'Tess Teacher').count()).toBe(1);
    const active = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || '');
    // Tab from the top of the page to the search box (through every control before it)
    let steps = 0;
    while ((await active()) !== 'search' && steps++ < 400) await page.keyboard.press('Tab');
    expect(await active()).toBe('search');
    await page.keyboard.type('kay@school.example');
    await page.keyboard.press('Enter');
    await poll(() => page.locator('#cantfind').count()).toBe(1);
    // the banner's email box has focus and holds what was typed
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe('kay@school.example');
    await page.keyboard.press('Tab'); // the first privilege of the catalogue: Edit course content
    expect(await page.evaluate(() => (document.activeElement as HTMLSelectElement).dataset.privilege)).toBe(
      'content.edit',
    );
    await page.keyboard.press('ArrowDown'); // Inherit → Allow
    steps = 0;
    while ((await page.evaluate(() => document.activeElement?.textContent)) !== 'Save for this person' && steps++ < 20)
      await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await poll(() => notice(page)).toContain('kay@school.example is not here yet');
    const viaApi = await api.get(`/courses/${courseId}/privileges/${enc('email:kay@school.example')}`);
    expect(viaApi.body.allow).toEqual(['content.edit']);
    expect(errors).toEqual([]);
    await close();
  });

  it('imports a 200-row CSV with a progress bar and a result per row', async () => {
    const lines = ['email,roles,allow'];
    for (let i = 1; i <= 200; i++)
      lines.push(i === 7 ? 'not-an-email,Learner,' : `pupil${i}@school.example,Learner,grades.view`);
    const { page, errors, close } = await teacherPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    await poll(() => peopleRow(page, 'Tess Teacher').count()).toBe(1);
    await page.setInputFiles('#bulk-file', {
      name: 'pupils.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(lines.join('\n')),
    });
    await poll(() => page.inputValue('#bulk-text')).toContain('pupil200@school.example');
    await page.click('#bulk-go');
    await poll(() => page.textContent('#bulk-summary'), { timeout: 30_000 }).toMatch(/^Finished/);
    expect(
      await page
        .locator('#bulk-progress')
        .evaluate((p) => [(p as HTMLProgressElement).value, (p as HTMLProgressElement).max]),
    ).toEqual([200, 200]);
    expect(await page.textContent('#bulk-progress-label')).toBe('200 of 200 rows');
    const results = page.locator('#bulk-body tr');
    expect(await results.count()).toBe(200);
    expect(await page.textContent('#bulk-summary')).toBe('Finished: 199 added — waiting for first sign-in, 1 error.');
    const bad = page.locator('#bulk-body tr[data-status="invalid"] td');
    expect(await bad.allTextContents()).toEqual(['8', 'not-an-email', 'error', 'malformed email "not-an-email"']);
    expect(await page.locator('#bulk-body tr').first().locator('td').allTextContents()).toEqual([
      '2',
      'pupil1@school.example',
      'added — waiting for first sign-in',
      '',
    ]);
    expect(await seriousViolations(page)).toEqual([]);
    // the history now pages: ten at a time, older ones on request
    const history = page.locator('#history li');
    await poll(() => history.count()).toBe(10);
    expect(await history.first().textContent()).toMatch(
      /^Tess Teacher (enrolled|granted See grades to) pupil\d+@school\.example/,
    );
    await page.click('#history-more');
    await poll(() => history.count()).toBe(20);
    const listed = await api.get(`/courses/${courseId}/privileges?limit=500`);
    expect(
      listed.body.items.filter((i: { person: { primaryEmail?: string } }) =>
        i.person.primaryEmail?.startsWith('pupil'),
      ),
    ).toHaveLength(199);
    expect(errors).toEqual([]);
    await close();
  }, 60_000);

  it('looks right at 1280×800 and inside a 900-px LMS iframe (screenshots)', async () => {
    const { page, close } = await teacherPage();
    await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    await poll(() => peopleRow(page, 'Sam Student').count()).toBe(1);
    await page.fill('#search', 'ben.new@school.example');
    await page.press('#search', 'Enter');
    await poll(() => page.locator('#cantfind').count()).toBe(1);
    await peopleRow(page, 'Sam Student').locator('.eff[data-privilege="grades.view"]').focus();
    await page.screenshot({ path: screenshotPath('course-admin-1280.png') });
    await page.locator('section[aria-labelledby="add-h"]').screenshot({ path: screenshotPath('course-cantfind.png') });
    // the table never pushes the page sideways: it scrolls inside its own box
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await close();

    // The emulated LMS's course page (the platform's origin, which frame-ancestors allows) frames
    // the tool; made 900 px wide, as an LMS content area is.
    const context = await contextWithSession(browser, env, tess.cookie, 1000);
    const lms = await context.newPage();
    await lms.goto(`${env.emu.url}/course?${new URLSearchParams({ tool: `${env.toolUrl}/app/courses/${courseId}` })}`);
    await lms.evaluate(() => {
      const f = document.getElementById('tool') as HTMLIFrameElement;
      f.width = '900';
      f.height = '760';
      f.style.border = '1px solid #ccc';
    });
    const frame = () => lms.frames().find((f) => f.url().includes(`/app/courses/${courseId}`));
    await poll(async () => (await frame()?.locator('#people-body tr').count()) ?? 0).toBeGreaterThan(1);
    const tool = frame()!;
    // the page fits the frame; the wide table scrolls inside its own box
    const fit = await tool.evaluate(() => {
      const box = document.querySelector('.scroll') as HTMLElement;
      return {
        main: document.querySelector('main')!.getBoundingClientRect().right,
        box: box.getBoundingClientRect().right,
        scrolls: box.scrollWidth > box.clientWidth,
        view: document.documentElement.clientWidth,
        doc: document.documentElement.scrollWidth,
      };
    });
    expect(fit.main).toBeLessThanOrEqual(fit.view);
    expect(fit.box).toBeLessThanOrEqual(fit.view);
    expect(fit.scrolls).toBe(true);
    expect(fit.doc).toBeLessThanOrEqual(fit.view);
    expect(await seriousViolations(tool)).toEqual([]);
    await lms.screenshot({ path: screenshotPath('course-admin-iframe-900.png') });
    await context.close();
  }, 60_000);

  it('shows a teaching assistant with members.view the course read-only: no controls, the reasons still there', async () => {
    await provisionPerson(env.store, env.tenant.id, { externalId: 'T-10', displayName: 'Tom Assistant' });
    await api.put(`/courses/${courseId}/privileges/${enc('key:S-7')}`, { allow: [], deny: ['grades.view'] });
    const ta = await launchAs(env, {
      sub: 'lms-tom',
      roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant'],
      sourcedId: 'T-10',
      ...BIO,
    });
    const context = await contextWithSession(browser, env, ta.cookie);
    const page = await context.newPage();
    const res = await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    expect(res!.status()).toBe(200);
    await poll(() => page.textContent('#who')).toBe('Signed in as Tom Assistant · view only');
    const sam = peopleRow(page, 'Sam Student');
    await poll(() => sam.count()).toBe(1);
    expect(await sam.locator('.eff[data-privilege="grades.view"]').getAttribute('data-effective')).toBe('denied');
    expect(await sam.locator('td.cell').nth(3).textContent()).toContain('Deny'); // the setting, as text
    expect(await page.locator('select, #search, #bulk-text, .row-actions button').count()).toBe(0);
    expect(await page.locator('#history li').count()).toBeGreaterThan(0);
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });

  it('answers a learner with the cookie a real 403 page naming the privilege and whom to ask', async () => {
    expect(sam.location).toMatch(/^\/app\/welcome#lti_ticket=/);
    const context = await contextWithSession(browser, env, sam.cookie);
    const page = await context.newPage();
    const res = await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    expect(res!.status()).toBe(403);
    const refusal = page.locator('#refusal[data-refusal="forbidden"]');
    expect(await refusal.locator('h2').textContent()).toBe('You can’t open this course’s privileges');
    const text = (await refusal.textContent()) ?? '';
    expect(text).toContain("“Grant and deny privileges in the course” or “See the course's people” in Biology 101");
    expect(text).not.toMatch(/privileges\.manage|members\.view/);
    expect(text).toContain('signed in as Sam Student');
    expect(text).toContain('Ask Tess Teacher, who manages privileges in this course');
    expect(await noForms(page)).toBe(0);
    expect(await page.locator('script[src]').count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: screenshotPath('course-403.png') });
    // the API agrees: no writes for a learner
    const put = await page.request.put(`${env.toolUrl}/api/v1/courses/${courseId}/privileges/${enc('key:S-7')}`, {
      data: { allow: ['grades.edit'], deny: [] },
      headers: { 'content-type': 'application/json' },
    });
    expect(put.status()).toBe(401); // the cookie alone never authorises an API write (CSRF)
    await context.close();
  });

  it('draws the same refusal, without forms, in the cookieless platform-storage flow', async () => {
    const [sam] = await sqlOn(env.store)<{ id: string }>(`SELECT id FROM people WHERE external_id = 'S-7'`);
    const { token } = await issueSession(env.store, env.toolUrl, {
      tenantId: env.tenant.id,
      personId: sam.id,
      courseId,
      roles: [ROLE.learner],
    });
    const context = await contextWithSession(browser, env, null);
    const page = await context.newPage();
    const res = await page.goto(`${env.toolUrl}/app/courses/${courseId}#rb_session=${encodeURIComponent(token)}`);
    expect(res!.status()).toBe(401); // the server saw no session; the page signs in from the fragment
    await poll(() => page.locator('#refusal').getAttribute('data-refusal')).toBe('forbidden');
    expect(await page.locator('#refusal').textContent()).toContain(
      'Ask Tess Teacher, who manages privileges in this course',
    );
    // the tab keeps the session, so it is out of the address bar
    expect(page.url()).toBe(`${env.toolUrl}/app/courses/${courseId}`);
    expect(await noForms(page)).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });

  it('answers nobody signed in with 401 and how to open the page, drawing no forms', async () => {
    const context = await contextWithSession(browser, env, null);
    const page = await context.newPage();
    const res = await page.goto(`${env.toolUrl}/app/courses/${courseId}`);
    expect(res!.status()).toBe(401);
    const refusal = page.locator('#refusal[data-refusal="unauthenticated"]');
    expect(await refusal.locator('h2').textContent()).toBe('Open this page from your course');
    await page.waitForLoadState('networkidle');
    expect(await noForms(page)).toBe(0);
    expect(await page.locator('#refusal').count()).toBe(1);
    expect(await seriousViolations(page)).toEqual([]);
    // an unknown course is a plain 404 page
    expect((await page.goto(`${env.toolUrl}/app/courses/00000000-0000-4000-8000-000000000000`))!.status()).toBe(404);
    await context.close();
  });

  it('lets a learner who launched accept an invitation sent to another address of theirs', async () => {
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
    const launched = await launchAs(env, { sub: 'lms-lee', roles: [ROLE.learner], sourcedId: 'S-8', ...BIO });
    expect(launched.location).toMatch(/^\/app\/welcome#lti_ticket=/);
    const context = await contextWithSession(browser, env, null);
    const page = await context.newPage();
    await page.goto(
      `${env.toolUrl}/app/welcome?invitation=${invitation}${launched.location.slice(launched.location.indexOf('#'))}`,
    );
    await poll(() => page.textContent('#welcome')).toBe('Welcome, Lee Learner');
    expect(await page.locator('#privileges li').allTextContents()).toEqual(['course.view']);
    expect(await seriousViolations(page)).toEqual([]);
    await page.click('#accept');
    await poll(() => page.textContent('#status')).toBe('Invitation accepted.');
    await poll(() => page.locator('#privileges li').allTextContents()).toEqual(['course.view', 'grades.view']);
    expect((await api.get(`/people/${placeholder.id}`)).body.id).toBe(lee.id); // merged into Lee
    await context.close();
  });

  it('shows the welcome page with sign-in help to someone who is not signed in', async () => {
    const context = await contextWithSession(browser, env, null);
    const page = await context.newPage();
    const res = await page.goto(`${env.toolUrl}/app/welcome?invitation=rbi_abcdefghijklmnop`);
    await poll(() => page.isVisible('#signin-help')).toBe(true);
    const csp = res!.headers()['content-security-policy'];
    expect(csp).toContain("script-src 'nonce-");
    expect(csp).not.toMatch(/frame-ancestors[^;]*\*/);
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });
});
