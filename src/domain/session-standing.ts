import type { Store } from '../db/store.js';
import { UnauthorizedError } from '../errors.js';

/**
 * Whether a launch session's person may still act: a session is signed for an hour, but a person
 * the IdP suspends or deprovisions (or who is merged away, or whose school is suspended or
 * deleted) must lose it within seconds, not at expiry. The answer is cached for STANDING_TTL_MS
 * per person, so a busy page costs one lookup per person every few seconds, not one per request.
 */
export const STANDING_TTL_MS = 2_000;
const LIVE_STATUSES = new Set(['active', 'provisioned', 'invited']);

interface Standing {
  refusal: string | null;
  until: number;
}
const cache = new WeakMap<Store, Map<string, Standing>>();

async function lookup(store: Store, tenantId: string, personId: string): Promise<string | null> {
  const { Person, Tenant } = store.models;
  const [person, tenant] = await Promise.all([
    Person.findOne({
      where: { tenantId, id: personId },
      attributes: ['status', 'deletedAt'],
      raw: true,
    }),
    Tenant.findOne({ where: { id: tenantId }, attributes: ['status', 'deletedAt'], raw: true }),
  ]);
  if (!tenant || tenant.deletedAt || tenant.status !== 'active')
    return 'Your school’s access to this tool is suspended';
  if (!person || person.deletedAt) return 'Your account no longer exists here; launch the tool again from your course';
  if (person.status === 'merged') return 'Your account was merged into another; launch the tool again from your course';
  if (!LIVE_STATUSES.has(person.status)) return 'Your account is suspended; ask your school’s IT team';
  return null;
}

/** Throws UnauthorizedError when the session's person or school may no longer act. */
export async function assertSessionStanding(store: Store, tenantId: string, personId: string): Promise<void> {
  let byKey = cache.get(store);
  if (!byKey) cache.set(store, (byKey = new Map()));
  const key = `${tenantId}:${personId}`;
  const now = Date.now();
  let standing = byKey.get(key);
  if (!standing || standing.until <= now) {
    if (byKey.size > 50_000) byKey.clear(); // bounded: a flood of distinct sessions cannot grow it forever
    standing = { refusal: await lookup(store, tenantId, personId), until: now + STANDING_TTL_MS };
    byKey.set(key, standing);
  }
  if (standing.refusal) throw new UnauthorizedError(standing.refusal);
}
