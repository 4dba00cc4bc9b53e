import type { Transaction } from 'sequelize';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';

/**
 * Transaction-scoped advisory locks, and the one order every writer takes its locks in:
 *   1. `refs`   — the email/key references a transaction may create people for
 *                 (person-reference.ts lockRefs), all of them in one call, before anything else;
 *   2. subject rows — the people/groups whose grants are written, FOR KEY SHARE, sorted by id
 *                 (grant-writer.ts);
 *   3. `grants` — one stripe per (course, subject) being written, in one call (grant-writer.ts);
 *   4. the subjects' grant rows, FOR UPDATE, then the set-based writes.
 * A transaction that takes its locks of a step in one sorted call never waits on a lock of an
 * earlier step while holding one of a later step, so writers cannot deadlock on these locks.
 */
const LOCK_NAMESPACE = { refs: 7_202_620, grants: 7_202_621 } as const;
/** Stripes per namespace: a lock per key would exhaust PostgreSQL's lock table (max_locks_per_transaction) in a 10,000-row bulk. */
const LOCK_STRIPES = 512;

/** Locks the stripes of `keys` in ascending stripe order; two unrelated keys in one stripe merely wait for each other. */
export async function advisoryLocks(
  store: Store,
  t: Transaction,
  namespace: keyof typeof LOCK_NAMESPACE,
  keys: string[],
): Promise<void> {
  if (!keys.length) return;
  await select(
    store,
    `SELECT count(pg_advisory_xact_lock($1::int, s)) AS n
       FROM (SELECT DISTINCT (abs(hashtext(k)::bigint) % $3)::int AS s FROM unnest($2::text[]) AS u (k) ORDER BY 1) x`,
    [LOCK_NAMESPACE[namespace], [...new Set(keys)], LOCK_STRIPES],
    t,
  );
}
