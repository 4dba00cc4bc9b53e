import { Op } from 'sequelize';
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
  await store.models.LtiRegistrationLink.create({ tokenHash, tenantId, expiresAt });
}

/** The tenant of an unused, unexpired link; undefined otherwise. */
export async function openRegistrationLinkTenant(store: Store, tokenHash: string): Promise<string | undefined> {
  const link = await store.models.LtiRegistrationLink.findOne({
    where: { tokenHash, usedAt: null, expiresAt: { [Op.gt]: store.sequelize.fn('now') } },
    attributes: ['tenantId'],
    raw: true,
  });
  return link?.tenantId;
}

/** Marks the link used; false when another registration used it first (the update is conditional). */
export async function useRegistrationLink(store: Store, tokenHash: string): Promise<boolean> {
  const [used] = await store.models.LtiRegistrationLink.update(
    { usedAt: store.sequelize.fn('now') },
    { where: { tokenHash, usedAt: null } },
  );
  return used === 1;
}
