import type { Transaction } from 'sequelize';
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
  await store.sequelize.query(
    `INSERT INTO lti_states (state_hash, nonce, issuer, client_id, deployment_hint, target_link_uri, storage_target, auth_origin, browser_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    {
      bind: [
        s.state_hash,
        s.nonce,
        s.issuer,
        s.client_id,
        s.deployment_hint,
        s.target_link_uri,
        s.storage_target,
        s.auth_origin,
        s.browser_hash,
        s.expires_at,
      ],
    },
  );
}

export async function findLoginState(store: Store, stateHash: string): Promise<LoginStateRow | undefined> {
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
  await store.sequelize.query(`DELETE FROM lti_states WHERE expires_at < now() - interval '1 hour'`);
  await store.sequelize.query(`DELETE FROM lti_nonces WHERE expires_at < now()`);
  await store.sequelize.query(`DELETE FROM lti_tickets WHERE expires_at < now() - interval '1 hour'`);
}
