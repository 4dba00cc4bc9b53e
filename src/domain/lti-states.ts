import { Op, type Transaction } from 'sequelize';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';

/**
 * The single-use records of an LTI login: states (created at login, burnt at launch), the nonces
 * accepted per issuer, and redeemed launch tickets. Only hashes of the secrets are stored; the
 * protocol layer (lti/state.ts) hashes.
 */
export interface LoginStateRow {
  state_hash: string;
  nonce: string;
  issuer: string;
  client_id: string;
  deployment_hint: string | null;
  target_link_uri: string;
  storage_target: string | null;
  auth_origin: string;
  browser_hash: string;
  expires_at: Date;
  used_at: Date | null;
}

export type NewLoginState = Omit<LoginStateRow, 'used_at'>;

export async function insertLoginState(store: Store, s: NewLoginState): Promise<void> {
  await store.models.LtiState.create(
    {
      stateHash: s.state_hash,
      nonce: s.nonce,
      issuer: s.issuer,
      clientId: s.client_id,
      deploymentHint: s.deployment_hint,
      targetLinkUri: s.target_link_uri,
      storageTarget: s.storage_target,
      authOrigin: s.auth_origin,
      browserHash: s.browser_hash,
      expiresAt: s.expires_at,
    },
    { returning: false },
  );
}

export async function findLoginState(store: Store, stateHash: string): Promise<LoginStateRow | undefined> {
  // Named SQL: read on every launch (the LTI hot path); LtiState.findByPk(…, { raw: true }) measured
  // about 265 µs per lookup against 150 µs for this statement on PostgreSQL 15.
  const [row] = await select<LoginStateRow>(store, `SELECT * FROM lti_states WHERE state_hash = $1`, [stateHash]);
  return row;
}

export interface StateAndNonce {
  stateHash: string;
  issuer: string;
  nonce: string;
  nonceExpiresAt: Date;
}

/**
 * CTEs `s` (the state, marked used) and `n` (the nonce, recorded only if the state was unused),
 * binding $1..$4 as in `stateAndNonceBind`. Shared with the returning launch, which burns both in
 * its own single statement.
 */
export const BURN_STATE_AND_NONCE = `s AS (
       UPDATE lti_states SET used_at = now() WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING 1
     ), n AS (
       INSERT INTO lti_nonces (issuer, nonce, expires_at) SELECT $2, $3, $4 WHERE EXISTS (SELECT 1 FROM s)
       ON CONFLICT DO NOTHING RETURNING 1
     )`;
export const stateAndNonceBind = (i: StateAndNonce) => [i.stateHash, i.issuer, i.nonce, i.nonceExpiresAt];

/**
 * Named SQL: one statement settles the replay race (a conditional UPDATE, and ON CONFLICT DO NOTHING
 * on the nonce) and shares its CTEs with the returning launch (launch-returning.ts).
 * Marks the state used and records its nonce in one statement: `state` is false when another
 * request used it first (a replay), `nonce` false when this issuer's nonce was already accepted.
 */
export async function consumeStateAndNonce(
  store: Store,
  i: StateAndNonce,
  t?: Transaction,
): Promise<{ state: boolean; nonce: boolean }> {
  const [row] = await select<{ s: number; n: number }>(
    store,
    `WITH ${BURN_STATE_AND_NONCE}
     SELECT (SELECT count(*) FROM s)::int AS s, (SELECT count(*) FROM n)::int AS n`,
    stateAndNonceBind(i),
    t,
  );
  return { state: row.s === 1, nonce: row.s === 1 && row.n === 1 };
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
