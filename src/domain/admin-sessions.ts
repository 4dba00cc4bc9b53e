import { createHash, randomBytes } from 'node:crypto';
import { Op } from 'sequelize';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { recordAudit } from './audit.js';
import { assertSessionStanding } from './session-standing.js';

/**
 * Sessions of the school admin page (/app/admin). A tenant admin signs in by pasting an admin
 * token once, or by an LTI launch with the LMS Administrator role; either way the browser gets a
 * random secret in an HttpOnly cookie and the database keeps only its SHA-256. A session lasts
 * until it expires, its admin signs out, its token is revoked or expires, its school is suspended
 * or deleted, or (launch sessions) its person may no longer act.
 */
export const TOKEN_SESSION_TTL_MS = 8 * 3600 * 1000;
export const LAUNCH_SESSION_TTL_MS = 3600 * 1000;

/** LIS institution and system roles that make a launch an LMS administrator's (LTI 1.3 §A.2.1–2). */
const LMS_ADMIN_ROLES = new Set([
  'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator',
  'http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator',
  'http://purl.imsglobal.org/vocab/lis/v2/system/person#SysAdmin',
]);

export const isLmsAdministrator = (roles: readonly string[]) => roles.some((r) => LMS_ADMIN_ROLES.has(r));

export type AdminSessionStart =
  | { tenantId: string; via: 'token'; tokenId: string }
  | { tenantId: string; via: 'lti'; personId: string };

export interface AdminSessionView {
  id: string;
  tenantId: string;
  tenantName: string;
  via: 'token' | 'lti';
  tokenId: string | null;
  personId: string | null;
  /** The audit actor of what the admin does on the page: their token, or their person. */
  actor: string;
  /** Who is signed in, in words: the token's name or the person's name. */
  who: string;
  expiresAt: string;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const SECRET = /^rbs_[A-Za-z0-9_-]{43}$/;

/** Starts a session; the secret (for the cookie) is returned once. Audited as admin.sign_in. */
export async function startAdminSession(
  store: Store,
  ctx: ActorContext,
  start: AdminSessionStart,
): Promise<{ secret: string; id: string; expiresAt: Date }> {
  const secret = `rbs_${randomBytes(32).toString('base64url')}`;
  const ttl = start.via === 'token' ? TOKEN_SESSION_TTL_MS : LAUNCH_SESSION_TTL_MS;
  const expiresAt = new Date(Date.now() + ttl);
  return inTransaction(store, async (t) => {
    const { AdminSession } = store.models;
    // Sessions that ended or expired a day ago are of no further use: swept as new ones start.
    await AdminSession.destroy({
      where: { tenantId: start.tenantId, expiresAt: { [Op.lt]: new Date(Date.now() - 24 * 3600 * 1000) } },
      transaction: t,
    });
    const row = await AdminSession.create(
      {
        tenantId: start.tenantId,
        secretHash: hash(secret),
        via: start.via,
        tokenId: start.via === 'token' ? start.tokenId : null,
        personId: start.via === 'lti' ? start.personId : null,
        expiresAt,
      },
      { transaction: t },
    );
    await recordAudit(store, t, ctx, {
      tenantId: start.tenantId,
      action: 'admin.sign_in',
      targetType: 'admin_session',
      targetId: row.id,
      after: { via: start.via, expiresAt: expiresAt.toISOString() },
    });
    return { secret, id: row.id, expiresAt };
  });
}

/** The live session a cookie secret belongs to, or null (unknown, ended, expired, or no longer entitled). */
export async function resolveAdminSession(store: Store, secret: string | undefined): Promise<AdminSessionView | null> {
  if (!secret || !SECRET.test(secret)) return null;
  const { AdminSession, Tenant, ApiToken, Person } = store.models;
  const row = await AdminSession.findOne({
    where: { secretHash: hash(secret), endedAt: null, expiresAt: { [Op.gt]: new Date() } },
    raw: true,
  });
  if (!row) return null;
  const tenant = await Tenant.findOne({ where: { id: row.tenantId, deletedAt: null, status: 'active' }, raw: true });
  if (!tenant) return null;
  let who: string;
  if (row.via === 'token') {
    const token = await ApiToken.findOne({
      where: { id: row.tokenId!, tenantId: row.tenantId, revokedAt: null },
      raw: true,
    });
    if (!token || (token.expiresAt && new Date(token.expiresAt).getTime() <= Date.now())) return null;
    who = `admin token “${token.name}”`;
  } else {
    try {
      await assertSessionStanding(store, row.tenantId, row.personId!);
    } catch {
      return null;
    }
    const person = await Person.findOne({ where: { id: row.personId!, tenantId: row.tenantId }, raw: true });
    who = person?.displayName ?? person?.primaryEmail ?? person?.userName ?? 'an LMS administrator';
  }
  return {
    id: row.id,
    tenantId: row.tenantId,
    tenantName: tenant.name,
    via: row.via,
    tokenId: row.tokenId,
    personId: row.personId,
    actor: row.via === 'token' ? `token:${row.tokenId}` : `person:${row.personId}`,
    who,
    expiresAt: new Date(row.expiresAt).toISOString(),
  };
}

/** Ends the session (sign-out); false when it had already ended. Audited as admin.sign_out. */
export async function endAdminSession(store: Store, ctx: ActorContext, session: AdminSessionView): Promise<boolean> {
  return inTransaction(store, async (t) => {
    const [n] = await store.models.AdminSession.update(
      { endedAt: new Date() },
      { where: { id: session.id, endedAt: null }, transaction: t },
    );
    if (n === 1)
      await recordAudit(store, t, ctx, {
        tenantId: session.tenantId,
        action: 'admin.sign_out',
        targetType: 'admin_session',
        targetId: session.id,
      });
    return n === 1;
  });
}
