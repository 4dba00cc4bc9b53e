import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * ltijs (devDependency) driven without MongoDB, for the differential test and the benchmark
 * baseline. ltijs accepts a `database.plugin` object in place of its mongoose layer; MemoryDb is
 * that object, in memory — the only stand-in, at ltijs's storage edge. Everything else (JWT
 * verification with jsonwebtoken, JWKS fetch with got, its claim checks, its Express routes) is
 * ltijs's own code.
 */
const require = createRequire(import.meta.url);

type Doc = Record<string, unknown>;
const matches = (doc: Doc, query: Doc) =>
  Object.entries(query ?? {}).every(([k, v]) => JSON.stringify(doc[k]) === JSON.stringify(v));

/** ltijs's Database interface (Utils/Database.js) over plain arrays; encryption is skipped. */
export class MemoryDb {
  private readonly collections = new Map<string, Doc[]>();
  private list(c: string): Doc[] {
    let l = this.collections.get(c);
    if (!l) this.collections.set(c, (l = []));
    return l;
  }
  async setup() {
    return true;
  }
  async Close() {
    return true;
  }
  async Get(_key: unknown, collection: string, query: Doc) {
    const found = this.list(collection)
      .filter((d) => matches(d, query))
      .map((d) => structuredClone(d));
    return found.length ? found : false;
  }
  async Insert(_key: unknown, collection: string, item: Doc, index?: Doc) {
    this.list(collection).push(structuredClone({ ...item, ...index }));
    return true;
  }
  async Replace(_key: unknown, collection: string, query: Doc, item: Doc, index?: Doc) {
    const l = this.list(collection);
    const i = l.findIndex((d) => matches(d, query));
    const doc = structuredClone({ ...item, ...index });
    if (i >= 0) l[i] = doc;
    else l.push(doc);
    return true;
  }
  async Modify(_key: unknown, collection: string, query: Doc, modification: Doc) {
    const d = this.list(collection).find((x) => matches(x, query));
    if (d) Object.assign(d, structuredClone(modification));
    return true;
  }
  async Delete(collection: string, query: Doc) {
    const l = this.list(collection);
    for (let i = l.length - 1; i >= 0; i--) if (matches(l[i], query)) l.splice(i, 1);
    return true;
  }
}

export interface LtijsPlatform {
  issuer: string;
  clientId: string;
  jwksUrl: string;
}

/**
 * ltijs's launch validation (Auth.validateToken: signature by kid from the JWKS, aud/azp, alg,
 * max age, nonce-not-seen, LTI claims) as its /launch route calls it, with the state cookie's
 * issuer as validation parameter. Resolves to null when accepted, or ltijs's error message.
 */
export function ltijsValidator(platform: LtijsPlatform, db = new MemoryDb(), tokenMaxAge = 10) {
  const Auth = require('ltijs/dist/Utils/Auth.js');
  const stand = {
    platformActive: async () => true,
    platformAuthConfig: async () => ({ method: 'JWK_SET', key: platform.jwksUrl }),
    platformClientId: async () => platform.clientId,
    platformKid: async () => 'ltijs-kid',
  };
  // ltijs keys platforms on (issuer, client_id) only — faithfully reproduced here.
  const getPlatform = async (iss: string, aud: string) =>
    iss === platform.issuer && aud === platform.clientId ? stand : false;
  return async (idToken: string): Promise<string | null> => {
    try {
      await Auth.validateToken(
        idToken,
        false,
        { iss: platform.issuer, maxAge: tokenMaxAge },
        getPlatform,
        'ENCRYPTIONKEY',
        db,
      );
      return null;
    } catch (err) {
      return (err as Error).message || String(err);
    }
  };
}

/** The full ltijs Provider (Express app, login + launch routes) on a real socket, with MemoryDb. */
export async function startLtijsProvider(
  platform: LtijsPlatform & { authUrl: string; tokenUrl: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const { Provider } = require('ltijs');
  const lti = Provider;
  lti.setup(
    'ltijs-bench-key',
    { plugin: new MemoryDb() },
    {
      appRoute: '/launch',
      loginRoute: '/login',
      cookies: { secure: false, sameSite: 'Lax' },
      devMode: false,
      tokenMaxAge: 60,
    },
  );
  lti.onConnect((_token: unknown, _req: unknown, res: { redirect(code: number, url: string): void }) =>
    res.redirect(303, '/app/welcome'),
  );
  await lti.deploy({ port: 0, silent: true, serverless: true });
  await lti.registerPlatform({
    url: platform.issuer,
    name: 'Emulator',
    clientId: platform.clientId,
    authenticationEndpoint: platform.authUrl,
    accesstokenEndpoint: platform.tokenUrl,
    authConfig: { method: 'JWK_SET', key: platform.jwksUrl },
  });
  const app = lti.app as import('express').Express;
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
