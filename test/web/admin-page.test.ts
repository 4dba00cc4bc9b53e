import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateTenant } from '../../src/domain/tenants.js';
import { backendName } from '../support/db.js';
import { ROLE, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { launchAdminPage, teacherLaunchesOkThenForged } from '../admin/helpers.js';

/**
 * The school admin page in a real browser (Debian's chromium driven by playwright-core): the IT
 * admin pastes an admin token, creates a SCIM token (shown once), their identity provider makes a
 * real SCIM request with it, and the request appears in the provisioning log; a launch refused by
 * the signature check appears with its check in plain words. Nobody signed in gets a 401 page with
 * no form; someone who launched from the LMS without the Administrator role gets 403. axe-core
 * finds no serious or critical violation.
 */
const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) console.warn(`test/web skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}
/** axe-core's serious and critical violations on the page (evaluated through DevTools, so the page's CSP does not apply). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(
    async () =>
      (await (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run()).violations,
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

describe.skipIf(!available)(`school admin page in a real browser on ${backendName}`, () => {
  let env: LtiEnv;
  let browser: Browser;
  let scimToken: string;

  beforeAll(async () => {
    env = await startLtiEnv();
    await updateTenant(env.store, { actor: 'test' }, env.tenant.slug, {
      name: 'Northfield High School',
      seatLimit: 120,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  const scimPost = (token: string, body: Record<string, unknown>) =>
    fetch(`${env.toolUrl}/scim/v2/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], ...body }),
    });

  it('answers 401 with no form to a browser that is not signed in', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${env.toolUrl}/app/admin`);
    expect(res!.status()).toBe(401);
    expect(await page.locator('form').count()).toBe(0);
    expect(await page.textContent('#signed-out')).toContain('You are not signed in');
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  it('signs in with a pasted token, creates a SCIM token shown once, and shows the IdP’s request in the provisioning log', {
    timeout: 90_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.toolUrl });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${env.toolUrl}/app/admin`);
    await page.click('text=sign in with an admin token');
    expect(await seriousViolations(page)).toEqual([]);
    await page.fill('#token', env.adminToken);
    await page.click('button[type=submit]');
    await page.waitForURL(`${env.toolUrl}/app/admin`);
    expect(page.url()).not.toContain('rb_');
    expect(await page.textContent('#who')).toContain('Signed in as admin token');
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'rb_admin');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/app/admin' });
    expect(await page.textContent('#last-scim')).toContain('none yet');

    // keyboard only: name the token, pick an expiry, submit with Enter
    await page.focus('#token-name');
    await page.keyboard.type('Entra ID provisioning');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown'); // "in 30 days"
    await page.focus('#token-name');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#new-token');
    scimToken = await page.inputValue('#new-token-value');
    expect(scimToken).toMatch(/^rb_scim_[\w-]{43}$/);
    expect(await page.locator('#tokens tbody tr', { hasText: 'Entra ID provisioning' }).textContent()).toContain(
      'working',
    );

    // the copy button (the page's bundled script) copies the SCIM base URL and says so
    await page.click('button[data-copy="scim-base-url"]');
    await expect.poll(() => page.textContent('#copy-status')).toBe('Copied SCIM base URL.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${env.toolUrl}/scim/v2`);
    // the identity provider uses the token over HTTP
    expect(
      (await scimPost(scimToken, { userName: 'ada@northfield.example', displayName: 'Ada Lovelace' })).status,
    ).toBe(201);
    expect((await scimPost(scimToken, { userName: 'ada@northfield.example', displayName: 'Ada Again' })).status).toBe(
      409,
    );

    // a reload shows it, and the secret is gone for good
    await page.goto(`${env.toolUrl}/app/admin`);
    expect(await page.locator('#new-token').count()).toBe(0);
    expect(await page.content()).not.toContain(scimToken);
    const rows = page.locator('#scim-log tbody tr');
    expect(await rows.nth(0).textContent()).toMatch(/Created a person.*Refused: already exists or conflicts \(409\)/s);
    expect(await rows.nth(1).textContent()).toMatch(/Created a person.*Ada Lovelace.*Created \(201\)/s);
    expect(await page.textContent('#last-scim')).not.toContain('none yet');
    expect(await page.textContent('#people-counts [data-status="provisioned"]')).toContain('1');
    expect(await page.textContent('#seats')).toContain('1 of 120 seats used');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('shows launches, a refused one with the check that failed in plain words', { timeout: 90_000 }, async () => {
    await teacherLaunchesOkThenForged(env, {
      externalId: 'T-9',
      userName: 'tess@northfield.example',
      displayName: 'Tess Teacher',
      sub: 'lms-tess',
      contextId: 'ctx-bio',
    });

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${env.toolUrl}/app/admin/sign-in`);
    await page.fill('#token', env.adminToken);
    await page.press('#token', 'Enter');
    await page.waitForURL(`${env.toolUrl}/app/admin`);
    const failed = page.locator('#launch-log tbody tr[data-check="signature"]');
    expect(await failed.textContent()).toContain('Refused: The signature did not match the LMS’s public keys');
    const signedIn = page.locator('#launch-log tbody tr[data-ok="true"]');
    expect(await signedIn.textContent()).toMatch(/Signed in.*Tess Teacher.*Biology 101.*Instructor/s);
    expect(await page.textContent('#platforms')).toContain(new URL(env.emu.issuer).host);
    // plain words: no ids on screen
    // biome-ignore lint/performance/useDomNodeTextContent: what is on screen, not the page's JSON data element
    const visible = await page.evaluate(() => document.body.innerText);
    expect(visible).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
    expect(await seriousViolations(page)).toEqual([]);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}admin-1280.png`, fullPage: true });
    await context.close();
  });

  it('answers 403 with no form to someone who launched from the LMS without the Administrator role', async () => {
    const learner = await launchAdminPage(env, { sub: 'lms-tess', roles: [ROLE.instructor], sourcedId: 'T-9' });
    expect(learner.launch!.headers.get('location')).toMatch(/^\/app\/admin#/);
    const context = await browser.newContext();
    await context.addCookies([
      { name: 'rb_session', value: learner.browser.cookies.get('rb_session')!, url: env.toolUrl },
    ]);
    const page = await context.newPage();
    const res = await page.goto(`${env.toolUrl}${learner.launch!.headers.get('location')}`);
    expect(res!.status()).toBe(403);
    expect(await page.locator('form').count()).toBe(0);
    expect(await page.textContent('#forbidden')).toContain('for your school’s administrators');
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });
});
