import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';

/**
 * One-time LTI Dynamic Registration links (lti_registration_links), each for one tenant. Stored by
 * the hash of their token; the protocol layer (lti/registration.ts) makes and hashes tokens.
 */
export async function insertRegistrationLink(
  store: Store,
  tokenHash: string,
  tenantId: string,
  expiresAt: Date,
): Promise<void> {
  await store.sequelize.query(
    `INSERT INTO lti_registration_links (token_hash, tenant_id, expires_at) VALUES ($1, $2, $3)`,
    { bind: [tokenHash, tenantId, expiresAt] },
  );
}

/** The tenant of an unused, unexpired link; undefined otherwise. */
export async function openRegistrationLinkTenant(store: Store, tokenHash: string): Promise<string | undefined> {
  const [link] = await select<{ tenant_id: string }>(
    store,
    `SELECT tenant_id FROM lti_registration_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()`,
    [tokenHash],
  );
  return link?.tenant_id;
}

/** Marks the link used; false when another registration used it first. */
export async function useRegistrationLink(store: Store, tokenHash: string): Promise<boolean> {
  const used = await select(
    store,
    `UPDATE lti_registration_links SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL RETURNING token_hash`,
    [tokenHash],
  );
  return used.length === 1;
}
