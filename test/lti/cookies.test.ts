import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPlatform } from '../../src/domain/platforms.js';
import { startPlatformEmulator, type PlatformEmulator } from '../support/platform-emulator.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/** Behind HTTPS (PUBLIC_URL https://…) the state cookie must survive an LMS iframe: SameSite=None; Secure; Partitioned. */
describe('LTI cookies behind an https PUBLIC_URL', () => {
  let server: TestServer;
  let emu: PlatformEmulator;
  beforeAll(async () => {
    server = await startTestServer({ PUBLIC_URL: 'https://rb.example' });
    emu = await startPlatformEmulator();
    const { tenant } = await seedTenant(server.store);
    await addPlatform(server.store, { actor: 'test' }, tenant.id, {
      issuer: emu.issuer,
      clientId: emu.clientId,
      deploymentId: 'd',
      authLoginUrl: emu.authUrl,
      authTokenUrl: emu.tokenUrl,
      jwksUrl: emu.jwksUrl,
    });
  });
  afterAll(async () => {
    await emu?.close();
    await server?.close();
  });

  it('sets the state cookie HttpOnly, SameSite=None, Secure and Partitioned, scoped to /lti, for at most 10 minutes', async () => {
    const q = new URLSearchParams({
      iss: emu.issuer,
      login_hint: 'h',
      target_link_uri: 'https://rb.example/lti/launch',
      client_id: emu.clientId,
    });
    const res = await fetch(`${server.url}/lti/login?${q}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('rb_lti_'))!;
    expect(cookie).toMatch(/; Max-Age=600/);
    expect(cookie).toMatch(/; Path=\/lti/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=None/);
    expect(cookie).toMatch(/; Partitioned/);
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('redirect_uri')).toBe('https://rb.example/lti/launch');
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
  });
});
