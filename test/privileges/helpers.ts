import { QueryTypes } from 'sequelize';
import type { Store } from '../../src/db/store.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/** A running server with one tenant and a small JSON client for its admin token. */
export async function privilegesHarness() {
  const server = await startTestServer();
  const seeded = await seedTenant(server.store);
  const client = apiClient(server, seeded.adminToken);
  return { server, ...seeded, api: client, close: () => server.close() };
}

export type Api = ReturnType<typeof apiClient>;

export function apiClient(server: Pick<TestServer, 'url'>, bearer: string) {
  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  }
  return {
    call,
    get: (p: string) => call('GET', p),
    post: (p: string, b?: unknown) => call('POST', p, b ?? {}),
    put: (p: string, b?: unknown) => call('PUT', p, b ?? {}),
    del: (p: string) => call('DELETE', p),
  };
}

export const enc = encodeURIComponent;

/** Raw SQL for assertions about rows (ids, xmin) that the API does not show. */
export const sqlOn =
  (store: Store) =>
  <T = any>(q: string, bind: unknown[] = []): Promise<T[]> =>
    store.sequelize.query<T & object>(q, { bind, type: QueryTypes.SELECT }) as Promise<T[]>;
