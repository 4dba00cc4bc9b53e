import { Op, QueryTypes, type Transaction } from 'sequelize';
import type { PersonAttrs } from '../db/models.js';
import { isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import { AppError } from '../errors.js';
import { recordAudit } from './audit.js';
import { changedOnCommit } from './change-signal.js';
import { insertPerson, liveWithUserName } from './people.js';

/**
 * Door 3 of DESIGN.md: who is this launch? Runs inside the launch's transaction.
 *   1. the identity link (platform, sub);
 *   2. the platform's identity claim (default lis.person_sourcedid) against externalId, then userName;
 *   3. the email, only if the platform is trusted for email and exactly one unlinked live person has it;
 *   4. a just-in-time person, if the platform allows it;
 *   5. otherwise a refusal that tells the person to ask their school.
 * A person already linked to another sub of the same platform is never re-linked. Suspended and
 * deprovisioned people cannot launch. Nothing here touches grants or memberships: linking is O(1)
 * however much was prepared for the person before their first launch.
 */
export class LaunchIdentityError extends AppError {
  constructor(
    readonly reason: 'no_match' | 'inactive' | 'linked_elsewhere' | 'ambiguous',
    message: string,
  ) {
    super('forbidden', message, {
      details: { check: reason === 'inactive' ? 'person_inactive' : 'identity', reason },
    });
  }
}

export interface LaunchPlatformPolicy {
  id: string;
  trustEmail: boolean;
  jitCreate: boolean;
  identityClaim: string;
}

export interface LaunchIdentityInput {
  tenantId: string;
  platform: LaunchPlatformPolicy;
  /** null for an anonymous launch */
  sub: string | null;
  claims: Record<string, unknown>;
}

export type MatchedBy = 'link' | 'claim' | 'email' | 'jit' | 'anonymous';

export interface LaunchIdentity {
  person: PersonAttrs | null;
  matchedBy: MatchedBy;
  firstLaunch: boolean;
}

const LIS = 'https://purl.imsglobal.org/spec/lti/claim/lis';
const CUSTOM = 'https://purl.imsglobal.org/spec/lti/claim/custom';
const INACTIVE = new Set(['suspended', 'deprovisioned', 'merged']);

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/** The value of the platform's configured identity claim in this launch, if any. */
export function identityClaimValue(claim: string, claims: Record<string, unknown>): string | null {
  if (claim === 'lis.person_sourcedid')
    return str((claims[LIS] as Record<string, unknown> | undefined)?.person_sourcedid);
  if (claim === 'preferred_username') return str(claims.preferred_username);
  if (claim.startsWith('custom.')) {
    const v = str((claims[CUSTOM] as Record<string, unknown> | undefined)?.[claim.slice('custom.'.length)]);
    // An unexpanded substitution variable ("$Canvas.user.sisIntegrationId") names nobody.
    return v && !v.startsWith('$') ? v : null;
  }
  return null;
}

const PERSON_COLUMNS = `id, tenant_id AS "tenantId", status, user_name AS "userName", external_id AS "externalId",
  primary_email AS "primaryEmail", given_name AS "givenName", family_name AS "familyName", display_name AS "displayName",
  active, source, scim, version, first_launch_at AS "firstLaunchAt", merged_into AS "mergedInto",
  created_at AS "createdAt", updated_at AS "updatedAt", deleted_at AS "deletedAt"`;

async function personById(
  store: Store,
  t: Transaction,
  tenantId: string,
  id: string,
): Promise<PersonAttrs | undefined> {
  const p = await store.models.Person.findOne({
    where: { tenantId, id },
    lock: t.LOCK.UPDATE,
    raw: true,
    transaction: t,
  });
  return p ?? undefined;
}

function assertCanLaunch(p: PersonAttrs): void {
  if (p.deletedAt || INACTIVE.has(p.status) || !p.active) {
    throw new LaunchIdentityError(
      'inactive',
      'Your account at your school is not active, so you cannot use this tool. Ask your school if this is unexpected.',
    );
  }
}

async function linkedSubOf(
  store: Store,
  t: Transaction,
  tenantId: string,
  platformId: string,
  personId: string,
): Promise<string | undefined> {
  const row = await store.models.IdentityLink.findOne({
    where: { tenantId, platformId, personId },
    attributes: ['sub'],
    raw: true,
    transaction: t,
  });
  return row?.sub;
}

async function byClaim(
  store: Store,
  t: Transaction,
  tenantId: string,
  value: string,
): Promise<PersonAttrs | undefined> {
  // externalId first (the IdP's stable key), then userName (case-insensitive, RFC 7643). externalId
  // is not unique (RFC 7643 gives it no uniqueness; see docs/decisions/0002): two live people with
  // the best-ranked match are a data problem for the school, never a guess.
  const { Person } = store.models;
  const live = { tenantId, deletedAt: null, status: { [Op.ne]: 'merged' } };
  let rows = await Person.findAll({ where: { ...live, externalId: value }, limit: 2, raw: true, transaction: t });
  if (rows.length === 0)
    rows = await Person.findAll({
      where: liveWithUserName(store, tenantId, value),
      limit: 2,
      raw: true,
      transaction: t,
    });
  if (rows.length === 2) {
    throw new LaunchIdentityError(
      'ambiguous',
      'More than one person at your school matches this account, so the tool cannot tell which one you are. Ask your school to fix the duplicate.',
    );
  }
  return rows[0];
}

async function byEmail(
  store: Store,
  t: Transaction,
  tenantId: string,
  platformId: string,
  email: string,
): Promise<PersonAttrs | undefined> {
  // Named SQL: one statement matches the primary or any email and skips people already linked on this platform.
  const rows = await store.sequelize.query<PersonAttrs>(
    `SELECT ${PERSON_COLUMNS} FROM people p
     WHERE p.tenant_id = $1 AND p.deleted_at IS NULL AND p.status NOT IN ('merged', 'deprovisioned')
       AND (p.primary_email = lower($3) OR EXISTS (SELECT 1 FROM person_emails e WHERE e.tenant_id = $1 AND e.person_id = p.id AND e.value_lower = lower($3)))
       AND NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.tenant_id = $1 AND l.platform_id = $2 AND l.person_id = p.id)
     LIMIT 2`,
    { bind: [tenantId, platformId, email], type: QueryTypes.SELECT, transaction: t },
  );
  return rows.length === 1 ? rows[0] : undefined; // several: never guess
}

/** Sets status active and first_launch_at on the first launch; returns whether it was the first. */
async function markLaunched(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  p: PersonAttrs,
): Promise<{ person: PersonAttrs; first: boolean }> {
  const becomesActive = p.status === 'provisioned' || p.status === 'invited';
  if (!becomesActive && p.firstLaunchAt) return { person: p, first: false };
  // A placeholder already holds its seat: its first launch takes none.
  const { literal } = store.sequelize;
  const [, [row]] = await store.models.Person.update(
    {
      status: literal(`CASE WHEN status IN ('provisioned', 'invited') THEN 'active' ELSE status END`),
      firstLaunchAt: literal('COALESCE(first_launch_at, now())'),
      updatedAt: store.sequelize.fn('now'),
      version: literal('version + 1'),
    },
    { where: { tenantId: p.tenantId, id: p.id }, returning: true, transaction: t },
  );
  const updated = row.get({ plain: true }) as PersonAttrs;
  await recordAudit(store, t, ctx, {
    tenantId: p.tenantId,
    action: 'person.first_launch',
    targetType: 'person',
    targetId: p.id,
    before: { status: p.status, firstLaunchAt: p.firstLaunchAt },
    after: { status: updated.status, firstLaunchAt: updated.firstLaunchAt },
  });
  changedOnCommit(t, p.tenantId);
  return { person: updated, first: !p.firstLaunchAt };
}

async function link(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: LaunchIdentityInput,
  person: PersonAttrs,
  matchedBy: 'claim' | 'email' | 'jit',
) {
  const existingSub = await linkedSubOf(store, t, input.tenantId, input.platform.id, person.id);
  if (existingSub !== undefined && existingSub !== input.sub) {
    throw new LaunchIdentityError(
      'linked_elsewhere',
      'Your school account is already linked to another account on this learning platform. Ask your school to check your account.',
    );
  }
  try {
    await store.sequelize.transaction({ transaction: t }, (sp) =>
      store.models.IdentityLink.create(
        { tenantId: input.tenantId, personId: person.id, platformId: input.platform.id, sub: input.sub!, matchedBy },
        { transaction: sp },
      ),
    );
  } catch (err) {
    // A concurrent first launch linked the same sub or person: the caller retries the whole launch.
    if (isUniqueViolation(err))
      throw new LaunchIdentityError(
        'linked_elsewhere',
        'This account was linked by another launch at the same moment; launch again.',
      );
    throw err;
  }
  await recordAudit(store, t, ctx, {
    tenantId: input.tenantId,
    action: 'person.link',
    targetType: 'person',
    targetId: person.id,
    after: { platformId: input.platform.id, sub: input.sub, matchedBy },
  });
  changedOnCommit(t, input.tenantId);
}

const NAME = (claims: Record<string, unknown>) => ({
  givenName: str(claims.given_name),
  familyName: str(claims.family_name),
  displayName: str(claims.name),
});

export async function resolveLaunchIdentity(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  input: LaunchIdentityInput,
): Promise<LaunchIdentity> {
  if (input.sub === null) return { person: null, matchedBy: 'anonymous', firstLaunch: false };
  const { tenantId, platform, claims } = input;

  // Returning people (almost every launch): one statement finds the link, stamps it and reads the
  // person — named SQL, as a model path would be three round trips here.
  const [linked] = await store.sequelize.query<PersonAttrs>(
    `WITH l AS (
       UPDATE identity_links SET last_launch_at = now() WHERE tenant_id = $1 AND platform_id = $2 AND sub = $3 RETURNING person_id
     )
     SELECT ${PERSON_COLUMNS} FROM people WHERE tenant_id = $1 AND id = (SELECT person_id FROM l)`,
    { bind: [tenantId, platform.id, input.sub], type: QueryTypes.SELECT, transaction: t },
  );
  if (linked) {
    let person: PersonAttrs | undefined = linked;
    if (person.status === 'merged' && person.mergedInto)
      person = await personById(store, t, tenantId, person.mergedInto);
    if (!person) throw new LaunchIdentityError('no_match', 'Your account is no longer known to your school here.');
    assertCanLaunch(person);
    const done = await markLaunched(store, t, ctx, person);
    return { person: done.person, matchedBy: 'link', firstLaunch: done.first };
  }

  const claimValue = identityClaimValue(platform.identityClaim, claims);
  let candidate: PersonAttrs | undefined;
  let matchedBy: 'claim' | 'email' | undefined;
  if (claimValue) {
    candidate = await byClaim(store, t, tenantId, claimValue);
    if (candidate) matchedBy = 'claim';
  }
  const email = str(claims.email);
  if (!candidate && platform.trustEmail && email) {
    candidate = await byEmail(store, t, tenantId, platform.id, email);
    if (candidate) matchedBy = 'email';
  }
  if (candidate && matchedBy) {
    const person = (await personById(store, t, tenantId, candidate.id))!;
    assertCanLaunch(person);
    await link(store, t, ctx, input, person, matchedBy);
    const done = await markLaunched(store, t, ctx, person);
    return { person: done.person, matchedBy, firstLaunch: done.first };
  }

  if (platform.jitCreate) {
    const created = await insertPerson(store, t, ctx, {
      tenantId,
      status: 'active',
      source: 'lti',
      primaryEmail: email,
      ...NAME(claims),
    });
    await link(store, t, ctx, input, created, 'jit');
    const done = await markLaunched(store, t, ctx, created);
    return { person: done.person, matchedBy: 'jit', firstLaunch: true };
  }
  throw new LaunchIdentityError(
    'no_match',
    'Your school has not set you up for this tool yet. Please ask your school to add you.',
  );
}
