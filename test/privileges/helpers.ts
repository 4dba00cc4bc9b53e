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

/** What the school's IdP sends: real SCIM requests over the socket. Throws on an unexpected status. */
export async function scim(
  server: Pick<TestServer, 'url'>,
  scimToken: string,
  method: string,
  path: string,
  body: unknown,
) {
  const res = await fetch(`${server.url}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (res.status >= 300) throw new Error(`SCIM ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const patchOp = (Operations: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations });

/** The IdP (de)activates a person with a PATCH, as Entra and Okta send it. */
export async function scimSetActive(
  server: Pick<TestServer, 'url'>,
  scimToken: string,
  personId: string,
  active: boolean,
) {
  await scim(
    server,
    scimToken,
    'PATCH',
    `/Users/${personId}`,
    patchOp([{ op: 'replace', path: 'active', value: active }]),
  );
}

/** The IdP creates a user; returns its id. */
export async function scimUser(server: Pick<TestServer, 'url'>, scimToken: string, userName: string): Promise<string> {
  const created = await scim(server, scimToken, 'POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName,
    emails: [{ value: userName, primary: true }],
  });
  return created.id as string;
}

/** The IdP creates a group with members (people or groups). */
export async function scimGroup(
  server: Pick<TestServer, 'url'>,
  scimToken: string,
  displayName: string,
  members: { value: string; type: 'User' | 'Group' }[],
): Promise<{ id: string }> {
  return scim(server, scimToken, 'POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName,
    members,
  });
}

/** The IdP removes one member from a group. */
export async function scimRemoveMember(
  server: Pick<TestServer, 'url'>,
  scimToken: string,
  groupId: string,
  memberId: string,
) {
  await scim(
    server,
    scimToken,
    'PATCH',
    `/Groups/${groupId}`,
    patchOp([{ op: 'remove', path: `members[value eq "${memberId}"]` }]),
  );
}
