import type { Transaction } from 'sequelize';

/*
 * In-process "decisions may have changed" signal; the authorization cache listens. Writers name
 * their tenant, so a change in one school never drops another school's cache, and where the change
 * is about one person (their status, emails, grants, memberships) they name that person too, so a
 * SCIM write in a busy tenant drops one person's cached decisions instead of the whole school's.
 * Other processes learn of changes from PostgreSQL triggers (NOTIFY rb_authz, payload
 * "tenant" or "tenant person": 0030_privileges_notify.sql, 0130_authz_person_scope.sql).
 */
type Listener = (tenantId: string | null, personId?: string) => void;
const listeners = new Set<Listener>();
/**
 * Subscribe to "decisions may have changed": tenantId null means any tenant; a personId narrows it
 * to that person's decisions and to person references (an email may now resolve differently).
 */
export function onAuthzChange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function emitAuthzChange(tenantId: string | null, personId?: string): void {
  for (const fn of listeners) fn(tenantId, personId);
}

/** Above this many people in one transaction the whole tenant is signalled once instead. */
const MAX_PEOPLE_PER_SIGNAL = 64;
const WHOLE = 'whole';
// What each open transaction changed, per tenant: a bulk write of 10,000 rows signals once.
const pending = new WeakMap<Transaction, Map<string, Set<string> | typeof WHOLE>>();

/** Signal after commit, so nobody re-caches the old state from a transaction still in flight. */
export function changedOnCommit(t: Transaction, tenantId: string, personId?: string): void {
  let tenants = pending.get(t);
  if (!tenants) {
    const changed = new Map<string, Set<string> | typeof WHOLE>();
    pending.set(t, (tenants = changed));
    t.afterCommit(() => {
      for (const [tenant, people] of changed) {
        if (people === WHOLE) emitAuthzChange(tenant);
        else for (const person of people) emitAuthzChange(tenant, person);
      }
    });
  }
  const people = tenants.get(tenantId);
  if (people === WHOLE) return;
  if (personId === undefined || (people && people.size >= MAX_PEOPLE_PER_SIGNAL)) tenants.set(tenantId, WHOLE);
  else if (people) people.add(personId);
  else tenants.set(tenantId, new Set([personId]));
}
