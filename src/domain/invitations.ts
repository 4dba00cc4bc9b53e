import { createHash, randomBytes } from 'node:crypto';
import { type InferAttributes, Op, type Transaction } from 'sequelize';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { AppError, ConflictError, NotFoundError } from '../errors.js';
import { enqueueMail } from './outbox.js';
import { recordAuditBatch } from './audit.js';
import { select } from '../db/sql.js';
import { changedOnCommit } from './change-signal.js';
import type { Invitation } from './invitations-models.js';

/**
 * Invitations: naming someone by email who is not here yet queues a mail with a single-use link
 * that expires. Only the token's SHA-256 is stored. Accepting it while signed in (LTI session)
 * proves the mailbox belongs to the signed-in person, so the placeholder is merged into them.
 */
export interface InviteSettings {
  publicUrl: string;
  ttlMs: number;
}
export const DEFAULT_INVITATION_TTL_MS = 14 * 24 * 3600 * 1000;

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const newToken = () => `rbi_${randomBytes(24).toString('base64url')}`;

function mailFor(email: string, token: string, settings: InviteSettings) {
  const link = `${settings.publicUrl}/app/welcome?invitation=${encodeURIComponent(token)}`;
  return {
    recipient: email,
    subject: 'You have been invited to a course',
    body: `Hello,\n\nYou have been added to a course. Sign in through your school's learning platform, then open:\n\n  ${link}\n\nThe link works once and expires on ${new Date(Date.now() + settings.ttlMs).toUTCString()}.\n`,
  };
}

/** An invitation sent for a course is that course's event too (its history lists it). */
const inviteTarget = (personId: string, courseId: string | null) =>
  courseId
    ? { targetType: 'course_person', targetId: `${courseId}/${personId}` }
    : { targetType: 'person', targetId: personId };

/** Queues invitations (and their mail) for placeholders in the caller's transaction; skips people who already have an open one. */
export async function queueInvitations(
  store: Store,
  t: Transaction,
  ctx: ActorContext,
  tenantId: string,
  items: Array<{ personId: string; email: string; courseId: string | null }>,
  settings: InviteSettings,
): Promise<void> {
  if (!items.length) return;
  const tokens = items.map(() => newToken());
  // Named SQL: a set-based insert from unnest (a bulk queues thousands) that skips, via ON CONFLICT on
  // the one-pending-per-person index, people who already have an open invitation.
  const created = await select<{ id: string; person_id: string; course_id: string | null; email: string }>(
    store,
    `INSERT INTO invitations (tenant_id, person_id, course_id, email, token_hash, expires_at, sent_count, last_sent_at)
     SELECT $1, p, c, e, h, now() + ($6::bigint * interval '1 millisecond'), 1, now()
       FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS x (p, c, e, h)
     ON CONFLICT (tenant_id, person_id) WHERE status = 'pending' DO NOTHING
     RETURNING id, person_id, course_id, email`,
    [
      tenantId,
      items.map((i) => i.personId),
      items.map((i) => i.courseId),
      items.map((i) => i.email.toLowerCase()),
      tokens.map(hash),
      settings.ttlMs,
    ],
    t,
  );
  const tokenOf = new Map(items.map((i, n) => [i.personId, tokens[n]]));
  await enqueueMail(
    store,
    t,
    tenantId,
    created.map((r) => mailFor(r.email, tokenOf.get(r.person_id)!, settings)),
  );
  await recordAuditBatch(
    store,
    t,
    ctx,
    tenantId,
    created.map((r) => ({
      action: 'invitation.create',
      ...inviteTarget(r.person_id, r.course_id),
      after: { invitationId: r.id, email: r.email },
    })),
  );
}

const VIEW_ATTRS = [
  'id',
  'personId',
  'courseId',
  'email',
  'status',
  'expiresAt',
  'sentCount',
  'lastSentAt',
  'acceptedAt',
  'createdAt',
] as const;
type InvitationRow = Pick<InferAttributes<Invitation>, (typeof VIEW_ATTRS)[number]>;
export const invitationView = (r: InvitationRow) => ({
  id: r.id,
  personId: r.personId,
  courseId: r.courseId,
  email: r.email,
  status: r.status === 'pending' && new Date(r.expiresAt).getTime() <= Date.now() ? 'expired' : r.status,
  expiresAt: new Date(r.expiresAt).toISOString(),
  sentCount: r.sentCount,
  lastSentAt: r.lastSentAt ? new Date(r.lastSentAt).toISOString() : null,
  acceptedAt: r.acceptedAt ? new Date(r.acceptedAt).toISOString() : null,
  createdAt: new Date(r.createdAt).toISOString(),
});

export async function listInvitations(
  store: Store,
  tenantId: string,
  filter: { personId?: string; status?: string } = {},
) {
  const rows = await store.models.Invitation.findAll({
    attributes: [...VIEW_ATTRS],
    where: { tenantId, ...(filter.personId !== undefined ? { personId: filter.personId } : {}) },
    order: [
      ['createdAt', 'DESC'],
      ['id', 'ASC'],
    ],
    limit: 500,
    raw: true,
  });
  const views = rows.map(invitationView);
  return filter.status ? views.filter((v) => v.status === filter.status) : views;
}

/** Sends a fresh link: the old token stops working, the expiry restarts. Creates one if the person had none open. */
export async function resendInvitation(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  personId: string,
  settings: InviteSettings,
  /** The course it is sent from (the course page), for the course's history. */
  courseId?: string,
) {
  return inTransaction(store, async (t) => {
    const { Invitation, Person } = store.models;
    // The person row FOR UPDATE: resends of one person queue here, so at most one invitation is pending.
    const person = await Person.findOne({
      attributes: ['status', 'primaryEmail'],
      where: { tenantId, id: personId, deletedAt: null },
      lock: t.LOCK.UPDATE,
      transaction: t,
      raw: true,
    });
    if (!person) throw new NotFoundError(`No person ${personId} in this tenant`);
    if (person.status !== 'invited')
      throw new ConflictError(`Person is ${person.status}; only invited placeholders get invitations`);
    if (!person.primaryEmail) throw new ConflictError('This placeholder has no email address to invite');
    const now = new Date();
    await Invitation.update(
      { status: 'expired' },
      { where: { tenantId, personId, status: 'pending', expiresAt: { [Op.lte]: now } }, transaction: t },
    );
    const token = newToken();
    const fresh = { tokenHash: hash(token), expiresAt: new Date(now.getTime() + settings.ttlMs), lastSentAt: now };
    // FOR UPDATE as the UPDATE it replaces: an acceptance of this invitation finishes first.
    const pending = await Invitation.findOne({
      where: { tenantId, personId, status: 'pending' },
      lock: t.LOCK.UPDATE,
      transaction: t,
    });
    const inv = pending
      ? await pending.update({ ...fresh, sentCount: pending.sentCount + 1 }, { transaction: t })
      : await Invitation.create(
          { tenantId, personId, email: person.primaryEmail, ...fresh, sentCount: 1 },
          { transaction: t },
        );
    await enqueueMail(store, t, tenantId, [mailFor(inv.email, token, settings)]);
    await recordAuditBatch(store, t, ctx, tenantId, [
      {
        action: 'invitation.resend',
        ...inviteTarget(personId, courseId ?? inv.courseId),
        after: { invitationId: inv.id, sentCount: inv.sentCount },
      },
    ]);
    return invitationView(inv);
  });
}

/**
 * Redeems a token once. With a signed-in person who is not the placeholder, the placeholder is
 * merged into them (the mailbox proved who they are); `merge` is passed in to keep modules acyclic.
 */
export async function acceptInvitation(
  store: Store,
  ctx: ActorContext,
  token: string,
  /** The caller's tenant, and the signed-in person if the caller is a session. */
  caller: { tenantId: string; personId: string | null },
  merge: (t: Transaction, tenantId: string, from: string, into: string) => Promise<void>,
) {
  return inTransaction(store, async (t) => {
    // A token of another tenant is "unknown", as an unknown token is.
    const inv = await store.models.Invitation.findOne({
      where: { tenantId: caller.tenantId, tokenHash: hash(token) },
      lock: t.LOCK.UPDATE,
      transaction: t,
    });
    if (!inv) throw new NotFoundError('Unknown invitation');
    const signedIn = caller.personId;
    if (inv.status === 'accepted') throw new ConflictError('This invitation has already been used');
    if (inv.status !== 'pending') throw new ConflictError(`This invitation is ${inv.status}`);
    if (new Date(inv.expiresAt).getTime() <= Date.now()) {
      await inv.update({ status: 'expired' }, { transaction: t });
      return { expired: true as const };
    }
    await inv.update({ status: 'accepted', acceptedAt: new Date(), acceptedBy: signedIn }, { transaction: t });
    let personId = inv.personId;
    if (signedIn && signedIn !== inv.personId) {
      await merge(t, inv.tenantId, inv.personId, signedIn);
      personId = signedIn;
    }
    await recordAuditBatch(store, t, ctx, inv.tenantId, [
      {
        action: 'invitation.accept',
        targetType: 'person',
        targetId: inv.personId,
        before: { status: 'pending' },
        after: { status: 'accepted', by: signedIn },
      },
    ]);
    changedOnCommit(t, inv.tenantId);
    return { expired: false as const, personId, courseId: inv.courseId };
  }).then((r) => {
    if (r.expired) throw new AppError('conflict', 'This invitation has expired; ask for a new one');
    return r;
  });
}
