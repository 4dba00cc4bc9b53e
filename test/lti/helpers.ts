import { QueryTypes } from 'sequelize';
import { addPlatform, type PlatformInput } from '../../src/domain/platforms.js';
import { insertPerson, type NewPerson } from '../../src/domain/people.js';
import { inTransaction, type Store } from '../../src/db/store.js';
import {
  LTI_CLAIM,
  startPlatformEmulator,
  type LaunchSpec,
  type PlatformEmulator,
} from '../support/platform-emulator.js';
import { freePort } from '../support/processes.js';
import { seedTenant, startTestServer, type TestServer } from '../support/server.js';

export const ROLE = {
  instructor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  learner: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
};

export interface LtiEnv {
  server: TestServer;
  toolUrl: string;
  store: Store;
  emu: PlatformEmulator;
  tenant: Awaited<ReturnType<typeof seedTenant>>['tenant'];
  adminToken: string;
  deploymentId: string;
  close(): Promise<void>;
}

/** The real server on a real socket whose PUBLIC_URL is its own address, plus an emulated LMS registered for a tenant. */
export async function startLtiEnv(
  policy: Partial<PlatformInput> = {},
  emuOptions: Parameters<typeof startPlatformEmulator>[0] = {},
  serverEnv: Record<string, string> = {},
): Promise<LtiEnv> {
  const port = await freePort();
  const server = await startTestServer({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...serverEnv });
  const emu = await startPlatformEmulator(emuOptions);
  const { tenant, adminToken } = await seedTenant(server.store);
  const deploymentId = 'deploy-1';
  await addPlatform(server.store, { actor: 'test' }, tenant.id, {
    issuer: emu.issuer,
    clientId: emu.clientId,
    deploymentId,
    authLoginUrl: emu.authUrl,
    authTokenUrl: emu.tokenUrl,
    jwksUrl: emu.jwksUrl,
    ...policy,
  });
  return {
    server,
    toolUrl: `http://127.0.0.1:${port}`,
    store: server.store,
    emu,
    tenant,
    adminToken,
    deploymentId,
    async close() {
      await emu.close();
      await server.close();
    },
  };
}

/** A resource link launch payload (the emulator adds iss/aud/iat/exp/nonce). */
export function resourceLaunch(
  env: LtiEnv,
  o: {
    sub?: string | null;
    roles?: string[];
    contextId?: string;
    sourcedId?: string;
    email?: string;
    deploymentId?: string;
    extra?: Record<string, unknown>;
  } = {},
): Record<string, unknown> {
  const p: Record<string, unknown> = {
    [`${LTI_CLAIM}message_type`]: 'LtiResourceLinkRequest',
    [`${LTI_CLAIM}version`]: '1.3.0',
    [`${LTI_CLAIM}deployment_id`]: o.deploymentId ?? env.deploymentId,
    [`${LTI_CLAIM}target_link_uri`]: `${env.toolUrl}/lti/launch`,
    [`${LTI_CLAIM}resource_link`]: { id: 'rl-1', title: 'Privileges' },
    [`${LTI_CLAIM}roles`]: o.roles ?? [ROLE.learner],
    [`${LTI_CLAIM}context`]: { id: o.contextId ?? 'ctx-1', label: 'BIO101', title: 'Biology 101' },
    ...(o.sourcedId ? { [`${LTI_CLAIM}lis`]: { person_sourcedid: o.sourcedId } } : {}),
    ...(o.email ? { email: o.email } : {}),
    name: 'Test Person',
    ...o.extra,
  };
  if (o.sub !== null) p.sub = o.sub ?? 'user-1';
  return p;
}

export const spec = (payload: Record<string, unknown>, more: Partial<LaunchSpec> = {}): LaunchSpec => ({
  payload,
  ...more,
});

/** A SCIM-provisioned person, as the SCIM door would leave them (status provisioned). */
export async function provisionPerson(store: Store, tenantId: string, p: Partial<NewPerson> & { externalId?: string }) {
  return inTransaction(store, (t) =>
    insertPerson(store, t, { actor: 'scim-test' }, { tenantId, status: 'provisioned', source: 'scim', ...p }),
  );
}

export async function rows<T extends object>(store: Store, sql: string, bind: unknown[] = []): Promise<T[]> {
  return store.sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT });
}

/** The failed check named on an LTI error page. */
export async function failedCheck(res: Response): Promise<string | null> {
  const page = await res.text();
  return /data-check="([^"]+)"/.exec(page)?.[1] ?? null;
}
