import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../src/db/store.js';
import {
  consumeStateAndNonce as consumeStoredStateAndNonce,
  findLoginState,
  insertLoginState,
  sweepExpiredLoginRecords,
  type LoginStateRow,
} from '../src/domain/lti-states.js';

/** OIDC login states (lti_states): created at login, consumed once at launch. */
export type StateRow = LoginStateRow;

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
  await insertLoginState(store, {
    state_hash: sha256(state),
    nonce: s.nonce,
    issuer: s.issuer,
    client_id: s.clientId,
    deployment_hint: s.deploymentHint,
    target_link_uri: s.targetLinkUri,
    storage_target: s.storageTarget,
    auth_origin: s.authOrigin,
    browser_hash: sha256(browserSecret),
    expires_at: new Date(Date.now() + STATE_TTL_MS),
  });
  return { state, browserSecret };
}

export function loadState(store: Store, state: string): Promise<StateRow | undefined> {
  return findLoginState(store, sha256(state));
}

/**
 * Marks the state used and records its nonce in one statement: `state` is false when another
 * request used it first (a replay), `nonce` false when this issuer's nonce was already accepted.
 */
export function consumeStateAndNonce(
  store: Store,
  state: string,
  issuer: string,
  nonce: string,
  nonceExpiresAt: Date,
): Promise<{ state: boolean; nonce: boolean }> {
  return consumeStoredStateAndNonce(store, { stateHash: sha256(state), issuer, nonce, nonceExpiresAt });
}

/** Deletes expired states, nonces and tickets (called opportunistically from login). */
export const sweepExpired = sweepExpiredLoginRecords;
