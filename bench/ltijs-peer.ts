import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

/**
 * The LTI peers for bench/lti.bench.ts: the ltijs 5 Provider (its Express app, login and launch
 * routes, JWT validation and claim checks — all ltijs's own code) with one of two storage plugins:
 *  - `pg`: ltijs-sequelize on PostgreSQL, ltijs's durable setup (its tables made by its own
 *    `sequelize.sync` and migration in a database of its own);
 *  - `memory`: MapDb below, the same plugin interface over Maps with an index per query shape, so
 *    nothing is scanned and the memory peer is as fast as a store can make it.
 * ltijs keeps one Provider per process, so each peer runs in its own process (bench/servers.ts).
 */
const require = createRequire(import.meta.url);

type Doc = Record<string, unknown>;

/** ltijs's Database plugin interface (Utils/Database.js) over Maps; encryption is skipped. */
export class MapDb {
  /** collection → id → document */
  private readonly docs = new Map<string, Map<number, Doc>>();
  /** collection → sorted query keys → key values → ids (built on first use of that shape). */
  private readonly indexes = new Map<string, Map<string, Map<string, Set<number>>>>();
  private nextId = 1;
  /** Documents inserted per collection (the bench reads `nonce` to confirm launches were stored). */
  readonly inserted = new Map<string, number>();

  private collection(c: string): Map<number, Doc> {
    let m = this.docs.get(c);
    if (!m) this.docs.set(c, (m = new Map()));
    return m;
  }
  private static keyOf(fields: string[], doc: Doc): string {
    return JSON.stringify(fields.map((f) => doc[f] ?? null));
  }
  private index(c: string, fields: string[]): Map<string, Set<number>> {
    let byShape = this.indexes.get(c);
    if (!byShape) this.indexes.set(c, (byShape = new Map()));
    const shape = fields.join('\u0000');
    let idx = byShape.get(shape);
    if (!idx) {
      byShape.set(shape, (idx = new Map()));
      for (const [id, doc] of this.collection(c)) this.addTo(idx, fields, id, doc);
    }
    return idx;
  }
  private addTo(idx: Map<string, Set<number>>, fields: string[], id: number, doc: Doc) {
    const k = MapDb.keyOf(fields, doc);
    let ids = idx.get(k);
    if (!ids) idx.set(k, (ids = new Set()));
    ids.add(id);
  }
  private eachIndex(c: string, fn: (idx: Map<string, Set<number>>, fields: string[]) => void) {
    for (const [shape, idx] of this.indexes.get(c) ?? []) fn(idx, shape ? shape.split('\u0000') : []);
  }
  private find(c: string, query: Doc | undefined): number[] {
    const fields = Object.keys(query ?? {}).sort();
    if (fields.length === 0) return [...this.collection(c).keys()];
    return [...(this.index(c, fields).get(MapDb.keyOf(fields, query ?? {})) ?? [])];
  }
  private add(c: string, doc: Doc) {
    const id = this.nextId++;
    this.collection(c).set(id, doc);
    this.eachIndex(c, (idx, fields) => this.addTo(idx, fields, id, doc));
    this.inserted.set(c, (this.inserted.get(c) ?? 0) + 1);
  }
  private remove(c: string, id: number) {
    const doc = this.collection(c).get(id);
    if (!doc) return;
    this.eachIndex(c, (idx, fields) => idx.get(MapDb.keyOf(fields, doc))?.delete(id));
    this.collection(c).delete(id);
  }

  async setup() {
    return true;
  }
  async Close() {
    return true;
  }
  async Get(_key: unknown, collection: string, query?: Doc) {
    const found = this.find(collection, query).map((id) => structuredClone(this.collection(collection).get(id)!));
    return found.length ? found : false;
  }
  async Insert(_key: unknown, collection: string, item: Doc, index?: Doc) {
    this.add(collection, structuredClone({ ...item, ...index }));
    return true;
  }
  async Replace(_key: unknown, collection: string, query: Doc, item: Doc, index?: Doc) {
    for (const id of this.find(collection, query)) this.remove(collection, id);
    this.add(collection, structuredClone({ ...item, ...index }));
    return true;
  }
  async Modify(_key: unknown, collection: string, query: Doc, modification: Doc) {
    const [id] = this.find(collection, query);
    if (id === undefined) return true;
    const doc = { ...this.collection(collection).get(id)!, ...structuredClone(modification) };
    this.remove(collection, id);
    this.collection(collection).set(id, doc);
    this.eachIndex(collection, (idx, fields) => this.addTo(idx, fields, id, doc));
    return true;
  }
  async Delete(collection: string, query: Doc) {
    for (const id of this.find(collection, query)) this.remove(collection, id);
    return true;
  }
}

export interface LtijsPeerOptions {
  storage: 'pg' | 'memory';
  /** PostgreSQL database for ltijs-sequelize (storage 'pg'): a fresh database of its own. */
  databaseUrl?: string;
  issuer: string;
  clientId: string;
  jwksUrl: string;
  authUrl: string;
  tokenUrl: string;
}

/** Starts the ltijs Provider on a plain Node HTTP server; resolves to its URL. */
export async function startLtijs(
  o: LtijsPeerOptions,
): Promise<{ url: string; memory?: MapDb; close(): Promise<void> }> {
  const { Provider } = require('ltijs');
  let memory: MapDb | undefined;
  let plugin: unknown;
  if (o.storage === 'pg') {
    const Database = require('ltijs-sequelize');
    const u = new URL(o.databaseUrl!);
    plugin = new Database(u.pathname.slice(1), decodeURIComponent(u.username), decodeURIComponent(u.password), {
      host: u.hostname,
      port: Number(u.port || 5432),
      dialect: 'postgres',
      logging: false,
    });
  } else plugin = memory = new MapDb();
  Provider.setup(
    'ltijs-bench-encryption-key',
    { plugin },
    {
      appRoute: '/launch',
      loginRoute: '/login',
      cookies: { secure: false, sameSite: 'Lax' },
      devMode: false,
      tokenMaxAge: 60,
    },
  );
  // Reached by the browser following the launch's redirect (not part of the measured round trip).
  Provider.onConnect((_token: unknown, _req: unknown, res: { send(body: string): void }) => res.send('launched'));
  // ltijs-sequelize's migrator (umzug) logs each migration to the console; the bench output stays clean.
  const { log, info } = console;
  console.log = console.info = () => undefined;
  try {
    await Provider.deploy({ serverless: true, silent: true });
  } finally {
    console.log = log;
    console.info = info;
  }
  await Provider.registerPlatform({
    url: o.issuer,
    name: 'Emulator',
    clientId: o.clientId,
    authenticationEndpoint: o.authUrl,
    accesstokenEndpoint: o.tokenUrl,
    authConfig: { method: 'JWK_SET', key: o.jwksUrl },
  });
  const server: Server = createServer(Provider.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    memory,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Provider.close().catch(() => undefined);
    },
  };
}
