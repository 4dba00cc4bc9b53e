import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

/** A SCIM client against the real server on a real socket, as an IdP would talk to it. */
export interface ScimClient {
  base: string;
  token: string;
  tenantId: string;
  req(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

export async function scimClient(server: TestServer): Promise<ScimClient> {
  const seeded = await seedTenant(server.store);
  const base = `${server.url}/scim/v2`;
  return {
    base,
    token: seeded.scimToken,
    tenantId: seeded.tenant.id,
    async req(method, path, body, headers = {}) {
      const res = await fetch(base + path, {
        method,
        headers: {
          Authorization: `Bearer ${seeded.scimToken}`,
          ...(body !== undefined ? { 'Content-Type': 'application/scim+json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* keep the text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}

export async function startScim(env: Record<string, string> = {}) {
  const server = await startTestServer({ SCIM_RATE_LIMIT_PER_MINUTE: '100000', ...env });
  const client = await scimClient(server);
  return { server, client };
}
