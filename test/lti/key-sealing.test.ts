import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateKeys } from '../../lti/keys.js';
import { issueSession, verifySession } from '../../lti/session.js';
import { createStore } from '../../src/db/store.js';
import { createKeySealer, KeySealError } from '../../src/domain/key-sealing.js';
import { setOneRosterConnection } from '../../src/domain/oneroster/connections.js';
import { publishedToolKeys, resealStoredSecrets } from '../../src/domain/tool-keys.js';
import { createEndpoint } from '../../src/domain/webhooks.js';
import { SecretUnreadableError, UnavailableError } from '../../src/errors.js';
import { httpStatusOf } from '../../src/http/errors.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/**
 * The tool's private keys are sealed at rest under TOOL_KEY_SECRET: the database alone (a backup,
 * a replica) holds nothing that signs a launch response or mints a session; rotating the secret
 * keeps old rows readable until `keys reseal`.
 */
const first = randomBytes(32);
const second = randomBytes(32);
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ TOOL_KEY_SECRET: first.toString('base64') });
  expect((await fetch(`${server.url}/lti/jwks`)).status).toBe(200); // the first key exists now
}, 120_000);
afterAll(async () => server?.close());

const storeWith = (secrets: Buffer[]) => createStore(server.store.sequelize, { toolKeySecrets: secrets });
const storedKeys = () => server.store.models.ToolKey.findAll({ raw: true });

describe('tool keys at rest', () => {
  it('are stored sealed, and the server signs and verifies with them', async () => {
    const rows = await storedKeys();
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.privateJwk).toMatchObject({ sealed: 'A256GCM' });
      expect(JSON.stringify(r.privateJwk)).not.toMatch(/"d"|"p"|"q"/);
    }
    const jwks = (await (await fetch(`${server.url}/lti/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256' });
    expect(jwks.keys[0].d).toBeUndefined();

    const { tenant } = await seedTenant(server.store);
    const sealed = storeWith([first]);
    const { token } = await issueSession(sealed, server.config.publicUrl, {
      tenantId: tenant.id,
      personId: null,
      courseId: null,
      roles: [],
    });
    expect(await verifySession(sealed, server.config.publicUrl, token)).toMatchObject({ tenantId: tenant.id });
  });

  it('cannot be opened from the database alone: the service is unavailable (503), with the remedy for the operator', async () => {
    const failure = await publishedToolKeys(storeWith([])).catch((err) => err);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect(failure.cause).toBeInstanceOf(KeySealError);
    expect(httpStatusOf(failure)).toBe(503);
    await expect(publishedToolKeys(storeWith([second]))).rejects.toThrow(
      /cannot be opened with this server's TOOL_KEY_SECRET.*TOOL_KEY_SECRET_PREVIOUS, then run keys reseal/,
    );
  });

  it('stay readable while the secret rotates, and move to the new secret with reseal', async () => {
    const rotating = storeWith([second, first]);
    const before = await publishedToolKeys(rotating);
    expect(before[0].private_jwk.d).toBeTruthy();
    expect((await resealStoredSecrets(rotating)).toolKeys).toBe((await storedKeys()).length);
    expect((await resealStoredSecrets(rotating)).toolKeys).toBe(0); // nothing left to move
    const after = await publishedToolKeys(storeWith([second]));
    expect(after.map((k) => k.private_jwk.d)).toEqual(before.map((k) => k.private_jwk.d));
    await expect(publishedToolKeys(storeWith([first]))).rejects.toThrow(/TOOL_KEY_SECRET/);
  });

  it("moves the schools' webhook and OneRoster secrets too, so the old secret can go", async () => {
    const { tenant } = await seedTenant(server.store);
    const underFirst = storeWith([first]);
    const { secret } = await createEndpoint(
      underFirst,
      { actor: 'test' },
      tenant.id,
      { url: 'https://hooks.school.example/rb', eventTypes: ['person.provisioned'] },
      { allowPrivateTargets: true },
    );
    await setOneRosterConnection(
      underFirst,
      { actor: 'test' },
      tenant.id,
      {
        baseUrl: 'https://sis.example/ims/oneroster',
        tokenUrl: 'https://sis.example/token',
        clientId: 'c',
        clientSecret: 's3cret',
      },
      { allowPrivateTargets: true },
    );
    const rotating = storeWith([second, first]);
    const moved = await resealStoredSecrets(rotating);
    expect(moved).toMatchObject({ webhookSecrets: 1, oneRosterSecrets: 1 });
    expect(await resealStoredSecrets(rotating)).toEqual({
      toolKeys: 0,
      webhookSecrets: 0,
      oneRosterSecrets: 0,
      unreadable: 0,
    });
    // Readable under the new secret alone, and no longer under the old one.
    const onlySecond = storeWith([second]).sealer;
    const [endpoint] = await server.store.models.WebhookEndpoint.findAll({ where: { tenantId: tenant.id }, raw: true });
    expect(onlySecond.open(endpoint.secret).k).toBe(secret);
    const [connection] = await server.store.models.OneRosterConnection.findAll({
      where: { tenantId: tenant.id },
      raw: true,
    });
    expect((onlySecond.open(connection.clientSecret) as unknown as { secret: string }).secret).toBe('s3cret');
    expect(() => storeWith([first]).sealer.open(endpoint.secret)).toThrow(KeySealError);
    // A value nothing here opens is left as it was and counted (the tool keys, now under `second`,
    // too); nothing fails and nothing moves.
    expect(await resealStoredSecrets(storeWith([first]))).toEqual({
      toolKeys: 0,
      webhookSecrets: 0,
      oneRosterSecrets: 0,
      unreadable: (await storedKeys()).length + 2,
    });
  });

  it('seals keys that were stored before a secret was set', async () => {
    const plain = storeWith([]);
    const rows = await server.store.models.ToolKey.findAll();
    const opened = await publishedToolKeys(storeWith([second]));
    for (const row of rows) {
      row.privateJwk = opened.find((k) => k.kid === row.kid)!.private_jwk as Record<string, unknown>;
      await row.save();
    }
    expect((await publishedToolKeys(plain))[0].private_jwk.d).toBeTruthy(); // plain rows: readable without a secret
    expect((await resealStoredSecrets(storeWith([first]))).toolKeys).toBe(rows.length);
    for (const r of await storedKeys()) expect(r.privateJwk).toMatchObject({ sealed: 'A256GCM' });
  });

  it('sealed under a secret the server does not have: LTI answers 503 with a page, never 500', async () => {
    const other = await startTestServer({ TOOL_KEY_SECRET: second.toString('base64') });
    try {
      // Its only key sealed under `first`, as if TOOL_KEY_SECRET had been replaced without the old one.
      await rotateKeys(createStore(other.store.sequelize, { toolKeySecrets: [first] }));
      const res = await fetch(`${other.url}/lti/jwks`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(await res.text()).not.toMatch(/TOOL_KEY_SECRET/); // the remedy is the operator's, in the log
    } finally {
      await other.close();
    }
  });
});

describe('a sealed secret that cannot be opened', () => {
  const sealer = createKeySealer([first]);
  const sealed = sealer.seal({ kty: 'oct', k: 'the-secret' }) as Record<string, string>;

  it('is a domain error naming the key that sealed it, not a crypto error', () => {
    expect(createKeySealer([first]).open(sealed)).toMatchObject({ k: 'the-secret' });
    const failure = (() => {
      try {
        createKeySealer([second]).open(sealed);
      } catch (err) {
        return err as KeySealError;
      }
    })();
    expect(failure).toBeInstanceOf(SecretUnreadableError);
    expect(failure).toMatchObject({ code: 'secret_unreadable', keyId: sealed.key, expose: true });
    expect(failure?.message).toMatch(/sealed with a key this server does not have.*enter the secret again/);
    expect(httpStatusOf(failure!)).toBe(409);
  });

  it('is the same domain error when the stored value was altered', () => {
    const altered = { ...sealed, data: Buffer.from('not what was sealed').toString('base64url') };
    expect(() => sealer.open(altered)).toThrow(KeySealError);
    expect(() => sealer.open(altered)).toThrow(/does not open with that key \(the stored value was altered\)/);
  });
});
