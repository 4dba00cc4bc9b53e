import type { IncludeOptions, Transaction } from 'sequelize';
import { z } from 'zod';
import { inTransaction, isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { recordAudit } from './audit.js';
import type { LtiPlatform } from './lti-models.js';
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
  /** Origins its signed launches named as where the tool is shown (learned, see noteFrameOrigins). */
  frameOrigins: string[];
  createdAt: string;
}

const view = (p: LtiPlatform): PlatformView => ({
  id: p.id,
  tenantId: p.tenantId,
  issuer: p.issuer,
  clientId: p.clientId,
  authLoginUrl: p.authLoginUrl,
  authTokenUrl: p.authTokenUrl,
  jwksUrl: p.jwksUrl,
  trustEmail: p.trustEmail,
  jitCreate: p.jitCreate,
  identityClaim: p.identityClaim,
  deploymentIds: (p.deployments ?? []).map((d) => d.deploymentId).sort(),
  frameOrigins: p.frameOrigins ?? [],
  createdAt: new Date(p.createdAt).toISOString(),
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

/** The platform's live deployment ids, joined in the same query. */
const liveDeploymentIds = (store: Store): IncludeOptions => ({
  model: store.models.LtiDeployment,
  as: 'deployments',
  required: false,
  attributes: ['deploymentId'],
  where: { deletedAt: null },
});

async function insertDeployment(store: Store, t: Transaction, ctx: ActorContext, p: LtiPlatform, deploymentId: string) {
  try {
    // A savepoint so a duplicate does not abort the caller's transaction on PostgreSQL.
    await store.sequelize.transaction({ transaction: t }, (sp) =>
      store.models.LtiDeployment.create(
        { tenantId: p.tenantId, platformId: p.id, issuer: p.issuer, clientId: p.clientId, deploymentId },
        { transaction: sp },
      ),
    );
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new ConflictError(
        `Deployment "${deploymentId}" of ${p.issuer} (client ${p.clientId}) is already registered (to this or another tenant)`,
      );
    }
    throw err;
  }
  await recordAudit(store, t, ctx, {
    tenantId: p.tenantId,
    action: 'lti.deployment.add',
    targetType: 'lti_platform',
    targetId: p.id,
    after: { issuer: p.issuer, clientId: p.clientId, deploymentId },
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
  const { LtiPlatform, LtiDeployment } = store.models;
  const id = await inTransaction(store, async (t) => {
    const existing = await LtiPlatform.findOne({
      where: { tenantId, issuer: d.issuer, clientId: d.clientId, deletedAt: null },
      lock: t.LOCK.UPDATE,
      transaction: t,
    });
    const settings = {
      authLoginUrl: d.authLoginUrl,
      authTokenUrl: d.authTokenUrl,
      jwksUrl: d.jwksUrl,
      trustEmail: d.trustEmail,
      jitCreate: d.jitCreate,
      identityClaim: d.identityClaim,
    };
    let row: LtiPlatform;
    if (existing) {
      const [, [updated]] = await LtiPlatform.update(
        { ...settings, updatedAt: store.sequelize.fn('now') },
        { where: { tenantId, id: existing.id }, returning: true, transaction: t },
      );
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
      row = await LtiPlatform.create(
        { tenantId, issuer: d.issuer, clientId: d.clientId, ...settings },
        { transaction: t },
      );
      await recordAudit(store, t, ctx, {
        tenantId,
        action: 'lti.platform.add',
        targetType: 'lti_platform',
        targetId: row.id,
        after: view(row),
      });
    }
    const has = await LtiDeployment.findOne({
      where: { tenantId, platformId: row.id, deploymentId: d.deploymentId, deletedAt: null },
      attributes: ['id'],
      raw: true,
      transaction: t,
    });
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
    const p = await store.models.LtiPlatform.findOne({
      where: { tenantId, issuer: d.issuer, clientId: d.clientId, deletedAt: null },
      transaction: t,
    });
    if (!p)
      throw new NotFoundError(`This tenant has no platform ${d.issuer} with client id ${d.clientId}; add it first`);
    await insertDeployment(store, t, ctx, p, d.deploymentId);
    return p.id;
  });
  generation++;
  return getPlatform(store, tenantId, id);
}

export async function getPlatform(store: Store, tenantId: string, id: string, t?: Transaction): Promise<PlatformView> {
  const row = await store.models.LtiPlatform.findOne({
    where: { tenantId, id, deletedAt: null },
    include: [liveDeploymentIds(store)],
    transaction: t,
  });
  if (!row) throw new NotFoundError('No such platform in this tenant');
  return view(row);
}

export async function listPlatforms(store: Store, tenantId?: string): Promise<PlatformView[]> {
  const rows = await store.models.LtiPlatform.findAll({
    where: { deletedAt: null, ...(tenantId ? { tenantId } : {}) },
    include: [liveDeploymentIds(store)],
    order: [
      ['createdAt', 'ASC'],
      ['issuer', 'ASC'],
      ['clientId', 'ASC'],
    ],
  });
  return rows.map(view);
}

/** Only platforms of live tenants answer the protocol. */
const liveTenant = (store: Store): IncludeOptions => ({
  model: store.models.Tenant,
  as: 'tenant',
  required: true,
  attributes: [],
  where: { deletedAt: null },
});

/** Login initiation: any live registration of (issuer, client_id) — they share endpoints. */
export async function findPlatformsForLogin(
  store: Store,
  issuer: string,
  clientId: string | undefined,
): Promise<PlatformView[]> {
  const rows = await store.models.LtiPlatform.findAll({
    where: { issuer, ...(clientId !== undefined ? { clientId } : {}), deletedAt: null },
    include: [liveTenant(store), liveDeploymentIds(store)],
    order: [['createdAt', 'ASC']],
  });
  return rows.map(view);
}

/** The one registration a signed launch belongs to: (issuer, client_id, deployment_id) → tenant. */
export async function resolveDeployment(
  store: Store,
  issuer: string,
  clientId: string,
  deploymentId: string,
): Promise<PlatformView | null> {
  // findAll, not findOne: a LIMIT would make Sequelize nest the joins in a subquery, and the live
  // (issuer, client_id, deployment_id) is unique (lti_deployments_live), so there is one row at most.
  const [hit] = await store.models.LtiDeployment.findAll({
    where: { issuer, clientId, deploymentId, deletedAt: null },
    attributes: ['id'],
    include: [
      {
        model: store.models.LtiPlatform,
        as: 'platform',
        required: true,
        where: { deletedAt: null },
        include: [liveTenant(store), liveDeploymentIds(store)],
      },
    ],
  });
  return hit?.platform ? view(hit.platform) : null;
}

/** The client ids this tenant has registered for an issuer: a launch's extra audiences must be among them. */
export async function tenantClientIdsOfIssuer(store: Store, tenantId: string, issuer: string): Promise<Set<string>> {
  const rows = await store.models.LtiPlatform.findAll({
    where: { tenantId, issuer, deletedAt: null },
    attributes: ['clientId'],
    raw: true,
  });
  return new Set(rows.map((r) => r.clientId));
}

/** A registration keeps at most this many learned frame origins (a school has one or two). */
export const MAX_FRAME_ORIGINS = 20;

/** The http(s) origin of a URL, or null. */
function originOf(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : null;
  } catch {
    return null;
  }
}

/** Where a platform shows the tool: its issuer's and login endpoint's origins and those it named. */
export function platformFrameOrigins(p: Pick<PlatformView, 'issuer' | 'authLoginUrl' | 'frameOrigins'>): string[] {
  return [
    ...new Set([originOf(p.issuer), originOf(p.authLoginUrl), ...p.frameOrigins].filter((o): o is string => !!o)),
  ];
}

/**
 * Remembers the origins a validated (signed) launch names as the LMS's own — the return URL of
 * launch_presentation and tool_platform.url — so the tool's pages may be framed there: Canvas
 * Cloud signs as canvas.instructure.com but shows the tool from each school's domain. Only new
 * origins are written (a launch from a known place writes nothing), audited as the platform's.
 * Returns every origin that may frame the platform's pages now (platformFrameOrigins, plus what
 * this launch taught).
 */
export async function noteFrameOrigins(
  store: Store,
  ctx: ActorContext,
  platform: Pick<PlatformView, 'id' | 'tenantId' | 'issuer' | 'authLoginUrl' | 'frameOrigins'>,
  claims: Record<string, unknown>,
): Promise<string[]> {
  const presentation = claims['https://purl.imsglobal.org/spec/lti/claim/launch_presentation'] as
    | { return_url?: unknown }
    | undefined;
  const toolPlatform = claims['https://purl.imsglobal.org/spec/lti/claim/tool_platform'] as
    | { url?: unknown }
    | undefined;
  const known = new Set(platformFrameOrigins(platform));
  const fresh = [
    ...new Set([originOf(presentation?.return_url), originOf(toolPlatform?.url)].filter((o): o is string => !!o)),
  ].filter((o) => !known.has(o));
  if (!fresh.length) return [...known];
  const learned = await inTransaction(store, async (t) => {
    const row = await store.models.LtiPlatform.findOne({
      where: { id: platform.id, tenantId: platform.tenantId, deletedAt: null },
      lock: t.LOCK.UPDATE,
      transaction: t,
    });
    if (!row) return [];
    const before = row.frameOrigins ?? [];
    const added = fresh.filter((o) => !before.includes(o)).slice(0, Math.max(0, MAX_FRAME_ORIGINS - before.length));
    if (!added.length) return [];
    await row.update({ frameOrigins: [...before, ...added] }, { transaction: t });
    await recordAudit(store, t, ctx, {
      tenantId: platform.tenantId,
      action: 'lti.platform.frame_origin',
      targetType: 'lti_platform',
      targetId: platform.id,
      before: { frameOrigins: before },
      after: { frameOrigins: [...before, ...added] },
    });
    t.afterCommit(() => {
      generation++;
    });
    return added;
  });
  return [...known, ...learned];
}

/**
 * Forgets a learned frame origin (the school moved domains, or never uses that place): its pages
 * may no longer be framed there until a signed launch names it again. 404 when it is not learned.
 */
export async function forgetFrameOrigin(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  platformId: string,
  origin: string,
): Promise<PlatformView> {
  return inTransaction(store, async (t) => {
    const row = await store.models.LtiPlatform.findOne({
      where: { id: platformId, tenantId, deletedAt: null },
      lock: t.LOCK.UPDATE,
      transaction: t,
    });
    if (!row) throw new NotFoundError('No such platform in this tenant');
    const before = row.frameOrigins ?? [];
    const wanted = originOf(origin) ?? origin;
    if (!before.includes(wanted)) throw new NotFoundError(`${origin} is not a place this platform was seen at`);
    const after = before.filter((o) => o !== wanted);
    await row.update({ frameOrigins: after }, { transaction: t });
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'lti.platform.frame_origin_forget',
      targetType: 'lti_platform',
      targetId: platformId,
      before: { frameOrigins: before },
      after: { frameOrigins: after },
    });
    t.afterCommit(() => {
      generation++;
    });
    return getPlatform(store, tenantId, platformId, t);
  });
}
