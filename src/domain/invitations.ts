import { createHash, randomBytes } from 'node:crypto';
import type { Transaction } from 'sequelize';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { AppError, ConflictError, NotFoundError } from '../errors.js';
import { enqueueMail } from './outbox.js';
import { recordAuditBatch } from './audit.js';
import { exec, select } from '../db/sql.js';
import { changedOnCommit } from './change-signal.js';

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
  const created = await select<{ id: string; person_id: string; email: string; ord: number }>(
    store,
    `INSERT INTO invitations (tenant_id, person_id, course_id, email, token_hash, expires_at, sent_count, last_sent_at)
     SELECT $1, p, c, e, h, now() + ($6::bigint * interval '1 millisecond'), 1, now()
       FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS x (p, c, e, h)
     ON CONFLICT (tenant_id, person_id) WHERE status = 'pending' DO NOTHING
     RETURNING id, person_id, email`,
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
      targetType: 'person',
      targetId: r.person_id,
      after: { invitationId: r.id, email: r.email },
    })),
  );
}

interface InvitationRow {
  id: string;
  person_id: string;
  course_id: string | null;
  email: string;
  status: string;
  expires_at: Date;
  sent_count: number;
  last_sent_at: Date | null;
  accepted_at: Date | null;
  created_at: Date;
}
export const invitationView = (r: InvitationRow) => ({
  id: r.id,
  personId: r.person_id,
  courseId: r.course_id,
  email: r.email,
  status: r.status === 'pending' && new Date(r.expires_at).getTime() <= Date.now() ? 'expired' : r.status,
  expiresAt: new Date(r.expires_at).toISOString(),
  sentCount: r.sent_count,
  lastSentAt: r.last_sent_at ? new Date(r.last_sent_at).toISOString() : null,
  acceptedAt: r.accepted_at ? new Date(r.accepted_at).toISOString() : null,
  createdAt: new Date(r.created_at).toISOString(),
});
const COLS = 'id, person_id, course_id, email, status, expires_at, sent_count, last_sent_at, accepted_at, created_at';

export async function listInvitations(
  store: Store,
  tenantId: string,
  filter: { personId?: string; status?: string } = {},
) {
  const rows = await select<InvitationRow>(
    store,
    `SELECT ${COLS} FROM invitations WHERE tenant_id = $1 AND ($2::uuid IS NULL OR person_id = $2) ORDER BY created_at DESC, id LIMIT 500`,
    [tenantId, filter.personId ?? null],
  );
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
) {
  return inTransaction(store, async (t) => {
    const [person] = await select<{ status: string; primary_email: string | null }>(
      store,
      'SELECT status, primary_email FROM people WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE',
      [tenantId, personId],
      t,
    );
    if (!person) throw new NotFoundError(`No person ${personId} in this tenant`);
    if (person.status !== 'invited')
      throw new ConflictError(`Person is ${person.status}; only invited placeholders get invitations`);
    if (!person.primary_email) throw new ConflictError('This placeholder has no email address to invite');
    await exec(
      store,
      "UPDATE invitations SET status = 'expired' WHERE tenant_id = $1 AND person_id = $2 AND status = 'pending' AND expires_at <= now()",
      [tenantId, personId],
      t,
    );
    const token = newToken();
    const [row] = await select<InvitationRow>(
      store,
      `UPDATE invitations SET token_hash = $3, expires_at = now() + ($4::bigint * interval '1 millisecond'), sent_count = sent_count + 1, last_sent_at = now()
        WHERE tenant_id = $1 AND person_id = $2 AND status = 'pending' RETURNING ${COLS}`,
      [tenantId, personId, hash(token), settings.ttlMs],
      t,
    );
    let inv = row;
    if (!inv) {
      [inv] = await select<InvitationRow>(
        store,
        `INSERT INTO invitations (tenant_id, person_id, email, token_hash, expires_at, sent_count, last_sent_at)
         VALUES ($1, $2, $3, $4, now() + ($5::bigint * interval '1 millisecond'), 1, now()) RETURNING ${COLS}`,
        [tenantId, personId, person.primary_email, hash(token), settings.ttlMs],
        t,
      );
    }
    await enqueueMail(store, t, tenantId, [mailFor(inv.email, token, settings)]);
    await recordAuditBatch(store, t, ctx, tenantId, [
      {
        action: 'invitation.resend',
        targetType: 'person',
        targetId: personId,
        after: { invitationId: inv.id, sentCount: inv.sent_count },
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
    const [inv] = await select<InvitationRow & { tenant_id: string }>(
      store,
      `SELECT tenant_id, ${COLS} FROM invitations WHERE token_hash = $1 FOR UPDATE`,
      [hash(token)],
      t,
    );
    if (!inv || inv.tenant_id !== caller.tenantId) throw new NotFoundError('Unknown invitation');
    const signedIn = caller.personId;
    if (inv.status === 'accepted') throw new ConflictError('This invitation has already been used');
    if (inv.status !== 'pending') throw new ConflictError(`This invitation is ${inv.status}`);
    if (new Date(inv.expires_at).getTime() <= Date.now()) {
      await exec(store, "UPDATE invitations SET status = 'expired' WHERE id = $1", [inv.id], t);
      return { expired: true as const };
    }
    await exec(
      store,
      "UPDATE invitations SET status = 'accepted', accepted_at = now(), accepted_by = $2 WHERE id = $1",
      [inv.id, signedIn],
      t,
    );
    let personId = inv.person_id;
    if (signedIn && signedIn !== inv.person_id) {
      await merge(t, inv.tenant_id, inv.person_id, signedIn);
      personId = signedIn;
    }
    await recordAuditBatch(store, t, ctx, inv.tenant_id, [
      {
        action: 'invitation.accept',
        targetType: 'person',
        targetId: inv.person_id,
        before: { status: 'pending' },
        after: { status: 'accepted', by: signedIn },
      },
    ]);
    changedOnCommit(t, inv.tenant_id);
    return { expired: false as const, personId, courseId: inv.course_id };
  }).then((r) => {
    if (r.expired) throw new AppError('conflict', 'This invitation has expired; ask for a new one');
    return r;
  });
}
