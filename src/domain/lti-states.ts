import { Op, type Transaction } from 'sequelize';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';

/**
 * The single-use records of an LTI login: the nonces accepted per issuer (which make a login's
 * state single use: lti/state.ts carries the state itself, signed, so login writes nothing — see
 * docs/decisions/0008), and redeemed launch tickets. lti_states holds no new rows since 0008 and is
 * only swept. Only hashes of secrets are stored; the protocol layer (lti/state.ts) hashes.
 */
export interface NonceRecord {
  issuer: string;
  nonce: string;
  nonceExpiresAt: Date;
}

/**
 * CTE `n`: the launch's nonce, recorded unless this issuer's nonce was accepted before (then no
 * row: the state is replayed). Binds $1..$3 as in `nonceBind`. Shared with the returning launch,
 * which burns it in its own single statement.
 */
export const BURN_NONCE = `n AS (
       INSERT INTO lti_nonces (issuer, nonce, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING RETURNING 1
     )`;
export const nonceBind = (i: NonceRecord) => [i.issuer, i.nonce, i.nonceExpiresAt];

/**
 * Named SQL: records the nonce once; false when it was already recorded (ON CONFLICT DO NOTHING
 * settles two concurrent launches of one state in one statement, without aborting anything).
 */
export async function consumeNonce(store: Store, i: NonceRecord, t?: Transaction): Promise<boolean> {
  const rows = await select<{ one: number }>(store, `WITH ${BURN_NONCE} SELECT 1 AS one FROM n`, nonceBind(i), t);
  return rows.length === 1;
}

/** Whether (issuer, nonce) was accepted already (a refusal path only). */
export async function nonceAlreadyRecorded(store: Store, issuer: string, nonce: string): Promise<boolean> {
  const rows = await select(store, `SELECT 1 FROM lti_nonces WHERE issuer = $1 AND nonce = $2`, [issuer, nonce]);
  return rows.length > 0;
}

/** Records a launch ticket as redeemed; false when it already was (single use). */
export async function redeemTicketOnce(
  store: Store,
  r: {
    ticketHash: string;
    tenantId: string;
    session: unknown;
    redirectTo: string;
    stateCheck: string | null;
    expiresAt: Date;
  },
): Promise<boolean> {
  // Named SQL: INSERT … ON CONFLICT DO NOTHING RETURNING settles two concurrent redemptions of one
  // ticket in one statement; a model create would throw on the second and abort its transaction.
  const used = await select(
    store,
    `INSERT INTO lti_tickets (ticket_hash, tenant_id, session, redirect_to, state_check, expires_at, used_at)
     VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT DO NOTHING RETURNING ticket_hash`,
    [r.ticketHash, r.tenantId, JSON.stringify(r.session), r.redirectTo, r.stateCheck, r.expiresAt],
  );
  return used.length === 1;
}

/** Deletes expired states, nonces and tickets (called opportunistically from login). */
export async function sweepExpiredLoginRecords(store: Store): Promise<void> {
  const { LtiState, LtiNonce, LtiTicket } = store.models;
  // The database's clock, as everywhere the records are checked.
  const now = store.sequelize.fn('now');
  const hourAgo = store.sequelize.literal(`now() - interval '1 hour'`);
  await LtiState.destroy({ where: { expiresAt: { [Op.lt]: hourAgo } } });
  await LtiNonce.destroy({ where: { expiresAt: { [Op.lt]: now } } });
  await LtiTicket.destroy({ where: { expiresAt: { [Op.lt]: hourAgo } } });
}
