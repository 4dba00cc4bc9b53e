import type { Transaction } from 'sequelize';

/*
 * In-process "decisions of a tenant may have changed" signal; the authorization cache listens.
 * Writers name their tenant, so a change in one school never drops another school's cache. Other
 * processes learn of changes from PostgreSQL triggers (NOTIFY rb_authz, 0030_privileges_notify.sql).
 */
type Listener = (tenantId: string | null) => void;
const listeners = new Set<Listener>();
/** Subscribe to "decisions of this tenant may have changed" (null: any tenant). Returns unsubscribe. */
export function onAuthzChange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function emitAuthzChange(tenantId: string | null): void {
  for (const fn of listeners) fn(tenantId);
}

// Tenants already signalled per open transaction: a bulk write of 10,000 rows signals once.
const pending = new WeakMap<Transaction, Set<string>>();

/** Signal after commit, so nobody re-caches the old state from a transaction still in flight. */
export function changedOnCommit(t: Transaction, tenantId: string): void {
  let tenants = pending.get(t);
  if (!tenants) pending.set(t, (tenants = new Set()));
  if (tenants.has(tenantId)) return;
  tenants.add(tenantId);
  t.afterCommit(() => emitAuthzChange(tenantId));
}
