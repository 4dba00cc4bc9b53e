import type { Transaction } from 'sequelize';

/* In-process "decisions of a tenant may have changed" signal; the authorization cache listens. */
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
/** Signal after commit, so nobody re-caches the old state from a transaction still in flight. */
export function changedOnCommit(t: Transaction, tenantId: string): void {
  t.afterCommit(() => emitAuthzChange(tenantId));
}
