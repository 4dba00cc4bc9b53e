import express from 'express';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

/**
 * The baseline for bench/scim.bench.ts: a minimal SCIM server on SCIMMY + scimmy-routers (the Node
 * reference SCIM library) keeping Users in memory, with an O(1) userName index (for uniqueness and
 * `userName eq` filters) so the comparison is about the protocol stack, not a naive store. It runs
 * in its own process (bench/servers.ts).
 */
export async function startScimmyBaseline(): Promise<{ url: string; size(): number; close(): Promise<void> }> {
  const users = new Map<string, Record<string, unknown>>();
  const byUserName = new Map<string, string>();
  // SCIMMY's handler types are generic over its schema classes; this baseline only needs the shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const User = SCIMMY.Resources.declare(SCIMMY.Resources.User) as any;
  User.ingress((resource: { id?: string }, data: Record<string, unknown>) => {
    const key = String(data.userName).toLowerCase();
    const existing = byUserName.get(key);
    if (existing && existing !== resource.id)
      throw new SCIMMY.Types.Error(409, 'uniqueness', 'userName already exists');
    const id = resource.id ?? randomUUID();
    const now = new Date();
    const record = { ...data, id, meta: { created: now, lastModified: now } };
    users.set(id, record);
    byUserName.set(key, id);
    return record;
  })
    .egress(
      (resource: { id?: string; filter?: Array<Record<string, unknown[]>> & { match(v: unknown[]): unknown[] } }) => {
        if (resource.id) return users.get(resource.id);
        const filter = resource.filter;
        if (!filter) return [...users.values()];
        // `userName eq "…"` (case-insensitive, as RFC 7643 defines userName) from the index; any other
        // filter the way SCIMMY documents it, by matching every record.
        const eq = filter.length === 1 && Object.keys(filter[0]).length === 1 ? filter[0].userName : undefined;
        if (eq?.[0] === 'eq') {
          const id = byUserName.get(String(eq[1]).toLowerCase());
          return id ? [users.get(id)] : [];
        }
        return filter.match([...users.values()]);
      },
    )
    .degress((resource: { id?: string }) => {
      users.delete(resource.id!);
    });
  const app = express();
  app.use('/scim', new SCIMMYRouters({ type: 'bearer', handler: () => 'bench' }) as unknown as express.Router);
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim`,
    size: () => users.size,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
