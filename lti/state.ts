import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { QueryTypes, type Transaction } from 'sequelize';
import type { Store } from '../src/db/store.js';

/** OIDC login states (lti_states): created at login, consumed once at launch. */
export interface StateRow {
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

export const STATE_TTL_MS = 10 * 60_000;
export const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
export const randomToken = (bytes = 24) => randomBytes(bytes).toString('base64url');

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookie that binds a state to the browser that started the login. */
export const stateCookieName = (state: string) => `rb_lti_${sha256(state).slice(0, 16)}`;

export interface NewState {
  nonce: string;
  issuer: string;
  clientId: string;
  deploymentHint: string | null;
  targetLinkUri: string;
  storageTarget: string | null;
  authOrigin: string;
}

/** Returns the state and the browser secret to set as its cookie; only hashes are stored. */
export async function createState(store: Store, s: NewState): Promise<{ state: string; browserSecret: string }> {
  const state = randomToken();
  const browserSecret = randomToken();
  await store.sequelize.query(
    `INSERT INTO lti_states (state_hash, nonce, issuer, client_id, deployment_hint, target_link_uri, storage_target, auth_origin, browser_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    {
      bind: [
        sha256(state),
        s.nonce,
        s.issuer,
        s.clientId,
        s.deploymentHint,
        s.targetLinkUri,
        s.storageTarget,
        s.authOrigin,
        sha256(browserSecret),
        new Date(Date.now() + STATE_TTL_MS),
      ],
    },
  );
  return { state, browserSecret };
}

export async function loadState(store: Store, state: string): Promise<StateRow | undefined> {
  const [row] = await store.sequelize.query<StateRow>(`SELECT * FROM lti_states WHERE state_hash = $1`, {
    bind: [sha256(state)],
    type: QueryTypes.SELECT,
  });
  return row;
}

/**
 * Marks the state used and records its nonce in one statement: `state` is false when another
 * request used it first (a replay), `nonce` false when this issuer's nonce was already accepted.
 */
export async function consumeStateAndNonce(
  store: Store,
  state: string,
  issuer: string,
  nonce: string,
  nonceExpiresAt: Date,
  t?: Transaction,
): Promise<{ state: boolean; nonce: boolean }> {
  const [row] = await store.sequelize.query<{ s: number; n: number }>(
    `WITH s AS (
       UPDATE lti_states SET used_at = now() WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING 1
     ), n AS (
       INSERT INTO lti_nonces (issuer, nonce, expires_at) SELECT $2, $3, $4 WHERE EXISTS (SELECT 1 FROM s)
       ON CONFLICT DO NOTHING RETURNING 1
     )
     SELECT (SELECT count(*) FROM s)::int AS s, (SELECT count(*) FROM n)::int AS n`,
    { bind: [sha256(state), issuer, nonce, nonceExpiresAt], type: QueryTypes.SELECT, transaction: t },
  );
  return { state: row.s === 1, nonce: row.s === 1 && row.n === 1 };
}

/** Deletes expired states and nonces (called opportunistically from login). */
export async function sweepExpired(store: Store): Promise<void> {
  await store.sequelize.query(`DELETE FROM lti_states WHERE expires_at < now() - interval '1 hour'`);
  await store.sequelize.query(`DELETE FROM lti_nonces WHERE expires_at < now()`);
  await store.sequelize.query(`DELETE FROM lti_tickets WHERE expires_at < now() - interval '1 hour'`);
}
