import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksCache } from '../../lti/jwks-cache.js';
import { LtiError } from '../../lti/errors.js';
import { startPlatformEmulator, type PlatformEmulator } from '../support/platform-emulator.js';

/** Platform key sets: cached, re-fetched once on an unknown kid, and rate limited. */
let emu: PlatformEmulator;
beforeAll(async () => {
  emu = await startPlatformEmulator();
});
afterAll(async () => {
  await emu?.close();
});

const checkOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => (e instanceof LtiError ? e.check : String(e)),
  );

describe('JwksCache', () => {
  it('fetches once and serves later lookups from the cache', async () => {
    const cache = new JwksCache();
    const hits = emu.jwksHits;
    await cache.key(emu.jwksUrl, emu.keys[0].kid);
    await cache.key(emu.jwksUrl, emu.keys[0].kid);
    await Promise.all([1, 2, 3].map(() => cache.key(emu.jwksUrl, emu.keys[0].kid)));
    expect(emu.jwksHits - hits).toBe(1);
  });

  it('re-fetches once when the platform rotated to a kid it has not seen', async () => {
    const cache = new JwksCache({ minRefetchMs: 0 });
    await cache.key(emu.jwksUrl, emu.keys[0].kid);
    const hits = emu.jwksHits;
    const rotated = emu.rotate();
    await expect(cache.key(emu.jwksUrl, rotated.kid)).resolves.toBeDefined();
    expect(emu.jwksHits - hits).toBe(1);
  });

  it('does not re-fetch for unknown kids more often than the rate limit allows', async () => {
    const cache = new JwksCache({ minRefetchMs: 60_000 });
    await cache.key(emu.jwksUrl, emu.keys[0].kid);
    const hits = emu.jwksHits;
    for (let i = 0; i < 20; i++) expect(await checkOf(cache.key(emu.jwksUrl, `made-up-${i}`))).toBe('kid');
    expect(emu.jwksHits - hits).toBe(0);
  });

  it('reports an unreachable key set as a jwks failure, not a crash', async () => {
    const cache = new JwksCache({ timeoutMs: 1000 });
    expect(await checkOf(cache.key('http://127.0.0.1:1/jwks', 'k'))).toBe('jwks');
  });

  it('ignores keys that are not RS256 signing keys', async () => {
    const fake: typeof fetch = async () =>
      new Response(
        JSON.stringify({
          keys: [
            { kty: 'RSA', kid: 'enc', use: 'enc', n: 'x', e: 'AQAB' },
            { kty: 'EC', kid: 'ec' },
          ],
        }),
      );
    const cache = new JwksCache({ fetch: fake });
    expect(await checkOf(cache.key('http://x/jwks', 'enc'))).toBe('kid');
    expect(await checkOf(cache.key('http://x/jwks', 'ec'))).toBe('kid');
  });
});
