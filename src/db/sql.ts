import { QueryTypes, type Transaction } from 'sequelize';
import type { Store } from './store.js';

/** Named raw-SQL helpers for the queries where PostgreSQL is the point (see docs/decisions). */
export async function select<T extends object>(
  store: Store,
  sql: string,
  bind: unknown[],
  t?: Transaction | null,
): Promise<T[]> {
  return store.sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT, transaction: t ?? undefined });
}
export async function exec(store: Store, sql: string, bind: unknown[], t: Transaction): Promise<void> {
  await store.sequelize.query(sql, { bind, transaction: t });
}
