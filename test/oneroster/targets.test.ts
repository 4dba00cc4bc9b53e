import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setOneRosterConnection, syncOneRosterApi } from '../../src/domain/oneroster/connections.js';
import { guardedFetch } from '../../src/domain/outbound-fetch.js';
import { apiClient } from '../privileges/helpers.js';
import { backendName } from '../support/db.js';
import { type OneRosterApiEmulator, startOneRosterApi } from '../support/oneroster-api.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/**
 * SSRF: without ONEROSTER_ALLOW_PRIVATE_TARGETS, a tenant's OneRoster API (its base URL and its
 * token URL) must be on public addresses: refused when configured, and again when a pull connects,
 * since a name may resolve elsewhere by then. With the setting, the same addresses are pulled.
 */
let server: TestServer;
let emulator: OneRosterApiEmulator;
beforeAll(async () => {
  server = await startTestServer(); // ONEROSTER_ALLOW_PRIVATE_TARGETS unset: false
  emulator = await startOneRosterApi();
});
afterAll(async () => {
  await emulator?.close();
  await server?.close();
});

const PATH = '/ims/oneroster/rostering/v1p2';
// A public address literal: passes the check without DNS, and is never connected to here.
const PUBLIC = 'https://93.184.216.34';
const connection = (baseUrl: string, tokenUrl: string) => ({
  baseUrl,
  tokenUrl,
  clientId: emulator.clientId,
  clientSecret: emulator.clientSecret,
});
/** The emulator (on 127.0.0.1) under another host: `localhost`, or a name that is not it. */
const emulatorAt = (host: string) => ({
  baseUrl: emulator.baseUrl.replace('127.0.0.1', host),
  tokenUrl: emulator.tokenUrl.replace('127.0.0.1', host),
});

describe(`configuring a OneRoster API without ONEROSTER_ALLOW_PRIVATE_TARGETS on ${backendName}`, () => {
  it.each([
    `http://127.0.0.1:8080${PATH}`,
    `http://localhost${PATH}`,
    `http://[::1]${PATH}`,
    `http://10.0.0.5${PATH}`,
    `http://192.168.1.20${PATH}`,
    'http://169.254.169.254/latest/meta-data',
    `http://2130706433${PATH}`,
  ])('refuses the base URL %s with a 400 problem naming baseUrl, and stores nothing', async (baseUrl) => {
    const { adminToken } = await seedTenant(server.store);
    const api = apiClient(server, adminToken);
    const res = await api.put('/oneroster/connection', connection(baseUrl, `${PUBLIC}/oauth/token`));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ title: 'bad_request', field: 'baseUrl' });
    expect(res.body.detail).toMatch(/^baseUrl host \S+ resolves to a loopback, private or link-local address/);
    expect((await api.get('/oneroster/connection')).status).toBe(404);
  });

  it('refuses a token URL on a private address, naming tokenUrl', async () => {
    const { adminToken } = await seedTenant(server.store);
    const res = await apiClient(server, adminToken).put(
      '/oneroster/connection',
      connection(`${PUBLIC}${PATH}`, 'http://169.254.169.254/oauth/token'),
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ title: 'bad_request', field: 'tokenUrl' });
    expect(res.body.detail).toMatch(/^tokenUrl host 169\.254\.169\.254 resolves to a loopback, private or link-local/);
  });

  it('refuses URLs with credentials in them, naming the field', async () => {
    const { adminToken } = await seedTenant(server.store);
    const res = await apiClient(server, adminToken).put(
      '/oneroster/connection',
      connection(`https://user:pw@sis.example${PATH}`, `${PUBLIC}/oauth/token`),
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ field: 'baseUrl', detail: 'baseUrl must not carry credentials' });
  });
});

describe(`pulling a OneRoster API without ONEROSTER_ALLOW_PRIVATE_TARGETS on ${backendName}`, () => {
  it.each([
    ['127.0.0.1', () => emulatorAt('127.0.0.1'), /127\.0\.0\.1 is a private address/],
    ['a name that resolves to loopback', () => emulatorAt('localhost'), /localhost resolves to a private address only/],
    ['10.x', () => ({ baseUrl: `http://10.0.0.5${PATH}`, tokenUrl: 'http://10.0.0.5/oauth/token' }), /10\.0\.0\.5/],
    [
      '169.254.169.254',
      () => ({ baseUrl: 'http://169.254.169.254/latest', tokenUrl: 'http://169.254.169.254/oauth/token' }),
      /169\.254\.169\.254 is a private address/,
    ],
  ])(
    'refuses to connect to %s (configured while it was allowed): 502, the connection says why',
    async (_, urls, why) => {
      const { tenant, adminToken } = await seedTenant(server.store);
      const { baseUrl, tokenUrl } = urls();
      // As if the name had resolved to a public address when configured, or the setting was on then.
      await setOneRosterConnection(server.store, { actor: 'test' }, tenant.id, connection(baseUrl, tokenUrl), {
        allowPrivateTargets: true,
      });
      emulator.requests.length = 0;
      const api = apiClient(server, adminToken);
      const sync = await api.post('/oneroster/connection/sync');
      expect(sync.status).toBe(502);
      expect(sync.body.title).toBe('upstream_failed');
      const view = await api.get('/oneroster/connection');
      expect(view.body.lastResult).toMatchObject({ applied: false });
      expect(view.body.lastResult.failure).toMatch(/^OneRoster API: the token request was refused: /);
      expect(view.body.lastResult.failure).toMatch(why);
      expect(emulator.requests).toEqual([]);
    },
  );
});

describe(`with private targets allowed on ${backendName}`, () => {
  it('the same addresses are accepted when configured, and a name resolving to loopback is pulled', async () => {
    const { tenant } = await seedTenant(server.store);
    const allowed = { allowPrivateTargets: true };
    for (const baseUrl of [`http://10.0.0.5${PATH}`, 'http://169.254.169.254/latest', `http://localhost${PATH}`])
      await expect(
        setOneRosterConnection(
          server.store,
          { actor: 'test' },
          tenant.id,
          connection(baseUrl, emulator.tokenUrl),
          allowed,
        ),
      ).resolves.toMatchObject({ baseUrl });
    const { baseUrl, tokenUrl } = emulatorAt('localhost');
    await setOneRosterConnection(server.store, { actor: 'test' }, tenant.id, connection(baseUrl, tokenUrl), allowed);
    const report = await syncOneRosterApi(server.store, { ...allowed, sleep: async () => {} }, tenant.id);
    expect(report).toMatchObject({ applied: true, summary: { people: { created: 6 } } });
  });

  it('redirects are followed as fetch follows them, each hop through the same guard', async () => {
    const seen: Array<{ method?: string; path?: string; auth?: string; body: string }> = [];
    const site = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method, path: req.url, auth: req.headers.authorization, body });
      const port = (site.address() as AddressInfo).port;
      if (req.url === '/same') return res.writeHead(307, { location: '/echo' }).end();
      if (req.url === '/elsewhere') return res.writeHead(302, { location: `http://localhost:${port}/echo` }).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    try {
      const origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
      const init = { method: 'POST', headers: { authorization: 'Bearer t' }, body: 'x=1' };
      const same = await guardedFetch(true)(`${origin}/same`, init);
      expect(await same.json()).toEqual({ ok: true });
      // 307 keeps the method, body and credentials on the same origin.
      expect(seen.slice(0, 2)).toEqual([
        { method: 'POST', path: '/same', auth: 'Bearer t', body: 'x=1' },
        { method: 'POST', path: '/echo', auth: 'Bearer t', body: 'x=1' },
      ]);
      seen.length = 0;
      expect((await guardedFetch(true)(`${origin}/elsewhere`, init)).status).toBe(200);
      // 302 after a POST is a GET; another origin does not get the credentials.
      expect(seen[1]).toEqual({ method: 'GET', path: '/echo', auth: undefined, body: '' });
      await expect(guardedFetch(false)(`${origin}/same`, init)).rejects.toMatchObject({ code: 'EPRIVATEADDRESS' });
    } finally {
      await new Promise((r) => site.close(r));
    }
  });
});
