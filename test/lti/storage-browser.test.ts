import { existsSync } from 'node:fs';
import { chromium, type Browser as PwBrowser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPlatform } from '../../src/domain/platforms.js';
import { createTenant } from '../../src/domain/tenants.js';
import { provisionPerson, resourceLaunch, startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * The platform storage flow in a real browser (Chromium): the LMS page (localhost) frames the tool
 * (127.0.0.1, another site, so the state cookie does not come back on the launch) next to a
 * storage frame. The tool's login page stores state and nonce through postMessage, the launch page
 * reads them back and only then redeems its ticket for a bearer session.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present)
  console.warn(`No Chromium at ${CHROMIUM} (set CHROMIUM_PATH): skipping the platform storage browser test`);

describe.skipIf(!present)('platform storage flow in Chromium', () => {
  let env: LtiEnv;
  let browser: PwBrowser;
  let lmsOrigin: string;
  beforeAll(async () => {
    env = await startLtiEnv();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    // The same emulator reached as localhost: a different site from the tool at 127.0.0.1.
    lmsOrigin = env.emu.url.replace('127.0.0.1', 'localhost');
    const t = await createTenant(
      env.store,
      { actor: 'test' },
      { slug: `storage-${process.pid}`, name: 'Storage school' },
    );
    await addPlatform(env.store, { actor: 'test' }, t.id, {
      issuer: env.emu.issuer,
      clientId: 'storage-client',
      deploymentId: 'storage-deploy',
      authLoginUrl: `${lmsOrigin}/auth`,
      authTokenUrl: `${lmsOrigin}/token`,
      jwksUrl: env.emu.jwksUrl,
    });
    await provisionPerson(env.store, t.id, { externalId: 'PS-pw-ok' });
    await provisionPerson(env.store, t.id, { externalId: 'PS-pw-wrong' });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  async function open(mode: 'ok' | 'wrong', hint: string) {
    env.emu.clientId = 'storage-client'; // the emulator's auth endpoint checks the client it serves
    env.emu.prepare(hint, {
      payload: resourceLaunch(env, { sub: `storage-${hint}`, sourcedId: `PS-${hint}`, deploymentId: 'storage-deploy' }),
    });
    const login = `${env.toolUrl}/lti/login?${new URLSearchParams({
      iss: env.emu.issuer,
      login_hint: hint,
      target_link_uri: `${env.toolUrl}/lti/launch`,
      client_id: 'storage-client',
      lti_storage_target: 'post_message_forwarding',
    })}`;
    const page = await browser.newPage();
    const confirms: number[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith('/lti/launch/confirm')) confirms.push(r.status());
    });
    const launched = page.waitForEvent('framenavigated', {
      predicate: (f) => f.url().endsWith('/lti/launch'),
      timeout: 20_000,
    });
    launched.catch(() => undefined); // awaited only by the tests that need it
    await page.goto(`${lmsOrigin}/course?${new URLSearchParams({ tool: login, mode })}`);
    return { page, confirms, launched, tool: () => page.frames().find((f) => f.name() === 'tool')! };
  }

  it('stores state and nonce in platform storage, proves them on the launch and gets a bearer session', async () => {
    const { page, confirms, tool } = await open('ok', 'pw-ok');
    // The session arrives in the fragment. Where the frame may keep it (sessionStorage) the page
    // takes it out of the address; where storage is blocked it stays there, for a reload.
    const session = async () => {
      const url = tool().url();
      if (!url.includes('/app/welcome')) return null;
      const kept = await tool()
        .evaluate(() => {
          try {
            return sessionStorage.getItem('rb_bearer');
          } catch {
            return null;
          }
        })
        .catch(() => null);
      if (kept) return { token: kept, url, stored: true };
      const inFragment = url.split('#rb_session=')[1];
      return inFragment ? { token: decodeURIComponent(inFragment), url, stored: false } : null;
    };
    await expect.poll(session, { timeout: 20_000 }).not.toBeNull();
    expect(confirms).toEqual([200]);
    const { token, url, stored } = (await session())!;
    expect(url.includes('#rb_session=')).toBe(!stored);
    const me = await fetch(`${env.toolUrl}/lti/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await me.json()) as { personId: string | null }).personId).not.toBeNull();
    await page.close();
  }, 40_000);

  it('refuses the launch when platform storage does not return this login (a hostile frame answering)', async () => {
    const { page, confirms, launched } = await open('wrong', 'pw-wrong');
    const frame = await launched;
    const result = () =>
      frame.evaluate(() => document.getElementById('status')?.dataset.result ?? 'no status').catch(() => 'navigating');
    await expect.poll(result, { timeout: 20_000 }).toBe('failed');
    expect(confirms).toEqual([]);
    await page.close();
  }, 40_000);
});
