import { QueryTypes, type Transaction } from 'sequelize';
import { z } from 'zod';
import { inTransaction, isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { recordAudit } from './audit.js';
import { parseInput } from './validate.js';

/**
 * The LTI platform registry. A registration is per tenant: (tenant, issuer, client_id) with its
 * endpoints and identity policy, plus its deployments. (issuer, client_id, deployment_id) names one
 * tenant — that is how a launch from a shared Canvas Cloud issuer finds its school.
 */
export interface PlatformView {
  id: string;
  tenantId: string;
  issuer: string;
  clientId: string;
  authLoginUrl: string;
  authTokenUrl: string;
  jwksUrl: string;
  trustEmail: boolean;
  jitCreate: boolean;
  identityClaim: string;
  deploymentIds: string[];
  createdAt: string;
}

interface PlatformRow {
  id: string;
  tenant_id: string;
  issuer: string;
  client_id: string;
  auth_login_url: string;
  auth_token_url: string;
  jwks_url: string;
  trust_email: boolean;
  jit_create: boolean;
  identity_claim: string;
  created_at: Date;
  deployment_ids?: string[] | null;
}

const view = (r: PlatformRow): PlatformView => ({
  id: r.id,
  tenantId: r.tenant_id,
  issuer: r.issuer,
  clientId: r.client_id,
  authLoginUrl: r.auth_login_url,
  authTokenUrl: r.auth_token_url,
  jwksUrl: r.jwks_url,
  trustEmail: r.trust_email,
  jitCreate: r.jit_create,
  identityClaim: r.identity_claim,
  deploymentIds: [...(r.deployment_ids ?? [])].sort(),
  createdAt: new Date(r.created_at).toISOString(),
});

const httpUrl = (label: string) =>
  z
    .string()
    .trim()
    .url(`${label} must be an absolute URL`)
    .refine((u) => /^https?:\/\//.test(u), `${label} must be http(s)`);

/** Identity claims a platform may be configured to match on (see launch-identity.ts). */
export const identityClaimSchema = z
  .string()
  .trim()
  .regex(
    /^(lis\.person_sourcedid|sub|email|preferred_username|custom\.[A-Za-z0-9_.$-]{1,100})$/,
    'identity claim must be lis.person_sourcedid, preferred_username, or custom.<name>',
  )
  .refine(
    (c) => c !== 'email' && c !== 'sub',
    'email and sub cannot be the identity claim (email is a weak key; sub is the link itself)',
  );

export const platformInput = z.object({
  issuer: z.string().trim().min(1, 'issuer is required').max(2000),
  clientId: z.string().trim().min(1, 'client id is required').max(500),
  deploymentId: z.string().trim().min(1, 'deployment id is required').max(500),
  authLoginUrl: httpUrl('auth login URL'),
  authTokenUrl: httpUrl('auth token URL'),
  jwksUrl: httpUrl('JWKS URL'),
  trustEmail: z.boolean().default(false),
  jitCreate: z.boolean().default(false),
  identityClaim: identityClaimSchema.default('lis.person_sourcedid'),
});
export type PlatformInput = z.input<typeof platformInput>;

/**
 * Bumped by every registry write in this process, so in-process caches of lookups (lti/) drop
 * their entries at once; other processes (the CLI) are seen when the caches' short TTL expires.
 */
let generation = 0;
export const registryGeneration = () => generation;

const SELECT_PLATFORM = `SELECT p.*, (SELECT array_agg(d.deployment_id) FROM lti_deployments d
  WHERE d.platform_id = p.id AND d.deleted_at IS NULL) AS deployment_ids FROM lti_platforms p`;

async function insertDeployment(store: Store, t: Transaction, ctx: ActorContext, p: PlatformRow, deploymentId: string) {
  try {
    // A savepoint so a duplicate does not abort the caller's transaction on PostgreSQL.
    await store.sequelize.transaction({ transaction: t }, (sp) =>
      store.sequelize.query(
        `INSERT INTO lti_deployments (tenant_id, platform_id, issuer, client_id, deployment_id) VALUES ($1, $2, $3, $4, $5)`,
        { bind: [p.tenant_id, p.id, p.issuer, p.client_id, deploymentId], transaction: sp },
      ),
    );
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new ConflictError(
        `Deployment "${deploymentId}" of ${p.issuer} (client ${p.client_id}) is already registered (to this or another tenant)`,
      );
    }
    throw err;
  }
  await recordAudit(store, t, ctx, {
    tenantId: p.tenant_id,
    action: 'lti.deployment.add',
    targetType: 'lti_platform',
    targetId: p.id,
    after: { issuer: p.issuer, clientId: p.client_id, deploymentId },
  });
}

/**
 * Registers a platform for a tenant with its first deployment. Registering the same (issuer,
 * client_id) again for the same tenant adds the deployment and updates endpoints and policy.
 */
export async function addPlatform(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  input: PlatformInput,
): Promise<PlatformView> {
  const d = parseInput(platformInput, input);
  const id = await inTransaction(store, async (t) => {
    const [existing] = await store.sequelize.query<PlatformRow>(
      `SELECT * FROM lti_platforms WHERE tenant_id = $1 AND issuer = $2 AND client_id = $3 AND deleted_at IS NULL FOR UPDATE`,
      { bind: [tenantId, d.issuer, d.clientId], type: QueryTypes.SELECT, transaction: t },
    );
    let row: PlatformRow;
    if (existing) {
      const [[updated]] = (await store.sequelize.query(
        `UPDATE lti_platforms SET auth_login_url = $2, auth_token_url = $3, jwks_url = $4, trust_email = $5, jit_create = $6,
           identity_claim = $7, updated_at = now() WHERE id = $1 RETURNING *`,
        {
          bind: [existing.id, d.authLoginUrl, d.authTokenUrl, d.jwksUrl, d.trustEmail, d.jitCreate, d.identityClaim],
          transaction: t,
        },
      )) as unknown as [PlatformRow[]];
      row = updated;
      await recordAudit(store, t, ctx, {
        tenantId,
        action: 'lti.platform.update',
        targetType: 'lti_platform',
        targetId: row.id,
        before: view(existing),
        after: view(row),
      });
    } else {
      const [[created]] = (await store.sequelize.query(
        `INSERT INTO lti_platforms (tenant_id, issuer, client_id, auth_login_url, auth_token_url, jwks_url, trust_email, jit_create, identity_claim)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        {
          bind: [
            tenantId,
            d.issuer,
            d.clientId,
            d.authLoginUrl,
            d.authTokenUrl,
            d.jwksUrl,
            d.trustEmail,
            d.jitCreate,
            d.identityClaim,
          ],
          transaction: t,
        },
      )) as unknown as [PlatformRow[]];
      row = created;
      await recordAudit(store, t, ctx, {
        tenantId,
        action: 'lti.platform.add',
        targetType: 'lti_platform',
        targetId: row.id,
        after: view(row),
      });
    }
    const [has] = await store.sequelize.query(
      `SELECT 1 FROM lti_deployments WHERE platform_id = $1 AND deployment_id = $2 AND deleted_at IS NULL`,
      { bind: [row.id, d.deploymentId], type: QueryTypes.SELECT, transaction: t },
    );
    if (!has) await insertDeployment(store, t, ctx, row, d.deploymentId);
    return row.id;
  });
  generation++;
  return getPlatform(store, tenantId, id);
}

export const deploymentInput = z.object({
  issuer: z.string().trim().min(1, 'issuer is required'),
  clientId: z.string().trim().min(1, 'client id is required'),
  deploymentId: z.string().trim().min(1, 'deployment id is required').max(500),
});

/** Adds a deployment to a platform the tenant has already registered. */
export async function addDeployment(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  input: z.input<typeof deploymentInput>,
): Promise<PlatformView> {
  const d = parseInput(deploymentInput, input);
  const id = await inTransaction(store, async (t) => {
    const [p] = await store.sequelize.query<PlatformRow>(
      `SELECT * FROM lti_platforms WHERE tenant_id = $1 AND issuer = $2 AND client_id = $3 AND deleted_at IS NULL`,
      { bind: [tenantId, d.issuer, d.clientId], type: QueryTypes.SELECT, transaction: t },
    );
    if (!p)
      throw new NotFoundError(`This tenant has no platform ${d.issuer} with client id ${d.clientId}; add it first`);
    await insertDeployment(store, t, ctx, p, d.deploymentId);
    return p.id;
  });
  generation++;
  return getPlatform(store, tenantId, id);
}

export async function getPlatform(store: Store, tenantId: string, id: string, t?: Transaction): Promise<PlatformView> {
  const [row] = await store.sequelize.query<PlatformRow>(
    `${SELECT_PLATFORM} WHERE p.tenant_id = $1 AND p.id = $2 AND p.deleted_at IS NULL`,
    {
      bind: [tenantId, id],
      type: QueryTypes.SELECT,
      transaction: t,
    },
  );
  if (!row) throw new NotFoundError('No such platform in this tenant');
  return view(row);
}

export async function listPlatforms(store: Store, tenantId?: string): Promise<PlatformView[]> {
  const rows = await store.sequelize.query<PlatformRow>(
    `${SELECT_PLATFORM} WHERE p.deleted_at IS NULL ${tenantId ? 'AND p.tenant_id = $1' : ''} ORDER BY p.created_at, p.issuer, p.client_id`,
    { bind: tenantId ? [tenantId] : [], type: QueryTypes.SELECT },
  );
  return rows.map(view);
}

/** Login initiation: any live registration of (issuer, client_id) — they share endpoints. */
export async function findPlatformsForLogin(
  store: Store,
  issuer: string,
  clientId: string | undefined,
): Promise<PlatformView[]> {
  const rows = await store.sequelize.query<PlatformRow>(
    `${SELECT_PLATFORM} WHERE p.issuer = $1 ${clientId !== undefined ? 'AND p.client_id = $2' : ''} AND p.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM tenants tn WHERE tn.id = p.tenant_id AND tn.deleted_at IS NULL) ORDER BY p.created_at`,
    { bind: clientId !== undefined ? [issuer, clientId] : [issuer], type: QueryTypes.SELECT },
  );
  return rows.map(view);
}

/** The one registration a signed launch belongs to: (issuer, client_id, deployment_id) → tenant. */
export async function resolveDeployment(
  store: Store,
  issuer: string,
  clientId: string,
  deploymentId: string,
): Promise<PlatformView | null> {
  const [row] = await store.sequelize.query<PlatformRow>(
    `${SELECT_PLATFORM} JOIN lti_deployments dd ON dd.platform_id = p.id AND dd.deleted_at IS NULL
     JOIN tenants tn ON tn.id = p.tenant_id AND tn.deleted_at IS NULL
     WHERE dd.issuer = $1 AND dd.client_id = $2 AND dd.deployment_id = $3 AND p.deleted_at IS NULL`,
    { bind: [issuer, clientId, deploymentId], type: QueryTypes.SELECT },
  );
  return row ? view(row) : null;
}

/** The client ids this tenant has registered for an issuer: a launch's extra audiences must be among them. */
export async function tenantClientIdsOfIssuer(store: Store, tenantId: string, issuer: string): Promise<Set<string>> {
  const rows = await store.sequelize.query<{ client_id: string }>(
    `SELECT client_id FROM lti_platforms WHERE tenant_id = $1 AND issuer = $2 AND deleted_at IS NULL`,
    { bind: [tenantId, issuer], type: QueryTypes.SELECT },
  );
  return new Set(rows.map((r) => r.client_id));
}
