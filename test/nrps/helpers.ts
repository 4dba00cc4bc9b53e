import { QueryTypes } from 'sequelize';
import { afterAll, beforeAll } from 'vitest';
import { nrpsFetcher, type NrpsClientOptions } from '../../lti/nrps.js';
import { ServiceTokens } from '../../lti/service-token.js';
import { toolKeysFor } from '../../lti/session.js';
import { inTransaction, type Store } from '../../src/db/store.js';
import { upsertLaunchCourse } from '../../src/domain/launch-course.js';
import { addPlatform, type PlatformInput } from '../../src/domain/platforms.js';
import { rememberRosterSource, type RosterSyncDeps } from '../../src/domain/roster-sync.js';
import { createTenant } from '../../src/domain/tenants.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startNrpsPlatform, type NrpsPlatform } from '../support/nrps-platform.js';

/** What an NRPS test file runs against: its own database, and an NRPS emulator that trusts the tool's keys. */
export interface NrpsEnv {
  store: Store;
  nrps: NrpsPlatform;
}

/** Starts the file's NrpsEnv before its tests and stops it after them; its fields are set once `beforeAll` has run. */
export function setUpNrpsEnv(options?: Parameters<typeof startNrpsPlatform>[0]): NrpsEnv {
  const env = {} as NrpsEnv;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    env.store = db.store;
    env.nrps = await startNrpsPlatform(options);
    env.nrps.trustTool(toolJwks(env.store));
  });
  afterAll(async () => {
    await env.nrps?.close();
    await db?.cleanup();
  });
  return env;
}

export async function rows<T extends object>(store: Store, sql: string, bind: unknown[] = []): Promise<T[]> {
  return store.sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT });
}

/** How many people and identity links a tenant has: a launch that finds its person by their link adds neither. */
export async function peopleAndLinks(store: Store, tenantId: string) {
  const [counts] = await rows<{ people: number; links: number }>(
    store,
    `SELECT (SELECT count(*)::int FROM people WHERE tenant_id = $1) AS people,
            (SELECT count(*)::int FROM identity_links WHERE tenant_id = $1) AS links`,
    [tenantId],
  );
  return counts;
}

let n = 0;
/** A tenant with the NRPS emulator registered as its LMS platform. */
export async function schoolWithPlatform(
  store: Store,
  nrps: NrpsPlatform,
  policy: Partial<PlatformInput> = {},
  seatLimit: number | null = null,
) {
  const slug = `nrps-${process.pid}-${++n}`;
  const tenant = await createTenant(store, { actor: 'test' }, { slug, name: `School ${slug}`, seatLimit });
  const platform = await addPlatform(store, { actor: 'test' }, tenant.id, {
    issuer: `${nrps.url}/${slug}`,
    clientId: nrps.clientId,
    deploymentId: 'deploy-1',
    authLoginUrl: `${nrps.url}/auth`,
    authTokenUrl: nrps.tokenUrl,
    jwksUrl: `${nrps.url}/jwks`,
    ...policy,
  });
  return { tenant, platform };
}

/** A course of that platform with its roster URL remembered, as an earlier launch would leave it. */
export async function courseWithRoster(
  store: Store,
  tenantId: string,
  platformId: string,
  contextId: string,
  nrps: NrpsPlatform,
) {
  const { courseId } = await inTransaction(store, (t) =>
    upsertLaunchCourse(store, t, { actor: 'test' }, { tenantId, platformId, contextId, title: contextId, sisKeys: [] }),
  );
  await rememberRosterSource(store, {
    tenantId,
    courseId,
    platformId,
    membershipsUrl: nrps.membershipsUrl(contextId),
    serviceVersions: ['2.0'],
  });
  return courseId;
}

/** A new school with the emulator as its LMS, and a course there named `contextId` whose roster URL is remembered. */
export async function courseOfNewSchool(
  env: NrpsEnv,
  contextId: string,
  policy: Partial<PlatformInput> = {},
  seatLimit: number | null = null,
) {
  const { tenant, platform } = await schoolWithPlatform(env.store, env.nrps, policy, seatLimit);
  const courseId = await courseWithRoster(env.store, tenant.id, platform.id, contextId, env.nrps);
  return { tenantId: tenant.id, platformId: platform.id, courseId, contextId };
}

/** The sync's dependencies as the server builds them, with quick backoff for tests. */
export function syncDeps(
  store: Store,
  client: Partial<NrpsClientOptions> = {},
): RosterSyncDeps & { tokens: ServiceTokens; sleeps: number[] } {
  const keys = toolKeysFor(store);
  const tokens = new ServiceTokens({ signingKey: () => keys.signingKey() });
  const sleeps: number[] = [];
  return {
    tokens,
    sleeps,
    fetchRoster: nrpsFetcher({
      tokens,
      baseDelayMs: 5,
      maxDelayMs: 2000,
      timeoutMs: 500,
      sleep: async (ms) => {
        sleeps.push(ms);
        await new Promise((r) => setTimeout(r, Math.min(ms, 20)));
      },
      ...client,
    }),
  };
}

export const toolJwks = (store: Store) => () => toolKeysFor(store).jwks() as never;
