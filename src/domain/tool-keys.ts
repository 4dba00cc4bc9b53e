import type { JWK } from 'jose';
import { select } from '../db/sql.js';
import { inTransaction, type Store } from '../db/store.js';

/**
 * The tool's own key pairs (tool_keys): one `active`, older ones `retiring` until `retire_after`.
 * Key generation and caching live in lti/keys.ts; this module only stores and reads them.
 */
export interface ToolKeyRow {
  kid: string;
  status: 'active' | 'retiring';
  public_jwk: JWK;
  private_jwk: JWK;
  retire_after: Date | null;
}

export interface NewToolKey {
  kid: string;
  publicJwk: JWK;
  privateJwk: JWK;
}

/** The active key and those still in their grace period, newest first. */
export async function publishedToolKeys(store: Store): Promise<ToolKeyRow[]> {
  const rows = await select<ToolKeyRow>(
    store,
    `SELECT * FROM tool_keys WHERE status = 'active' OR retire_after > now() ORDER BY created_at DESC`,
    [],
  );
  return rows.map((r) => ({ ...r, private_jwk: store.sealer.open(r.private_jwk) }));
}

export async function hasActiveToolKey(store: Store): Promise<boolean> {
  const [has] = await select(store, `SELECT 1 FROM tool_keys WHERE status = 'active'`, []);
  return has !== undefined;
}

/** Inserts the first active key; a concurrent starter that got there first wins (unique index). */
export async function insertFirstToolKey(store: Store, k: NewToolKey): Promise<void> {
  await store.sequelize.query(
    `INSERT INTO tool_keys (kid, status, public_jwk, private_jwk) VALUES ($1, 'active', $2, $3) ON CONFLICT DO NOTHING`,
    { bind: [k.kid, JSON.stringify(k.publicJwk), JSON.stringify(store.sealer.seal(k.privateJwk))] },
  );
}

/** Retires the active key for `graceMs`, makes `k` active and deletes keys past their grace period. */
export function rotateToolKeys(
  store: Store,
  k: NewToolKey,
  graceMs: number,
): Promise<{ retired: string[]; deleted: number }> {
  return inTransaction(store, async (t) => {
    const retired = await select<{ kid: string }>(
      store,
      `UPDATE tool_keys SET status = 'retiring', retire_after = now() + ($1 || ' milliseconds')::interval WHERE status = 'active' RETURNING kid`,
      [String(graceMs)],
      t,
    );
    await store.sequelize.query(
      `INSERT INTO tool_keys (kid, status, public_jwk, private_jwk) VALUES ($1, 'active', $2, $3)`,
      { bind: [k.kid, JSON.stringify(k.publicJwk), JSON.stringify(store.sealer.seal(k.privateJwk))], transaction: t },
    );
    const gone = await select<{ kid: string }>(
      store,
      `DELETE FROM tool_keys WHERE status = 'retiring' AND retire_after <= now() RETURNING kid`,
      [],
      t,
    );
    return { retired: retired.map((r) => r.kid), deleted: gone.length };
  });
}

/**
 * Seals every stored private key under the current TOOL_KEY_SECRET (plain ones, and those sealed
 * under a previous secret), in one transaction. Returns how many rows changed.
 */
export function resealToolKeys(store: Store): Promise<number> {
  return inTransaction(store, async (t) => {
    const rows = await store.models.ToolKey.findAll({ transaction: t, lock: t.LOCK.UPDATE });
    let changed = 0;
    for (const row of rows) {
      if (store.sealer.isCurrent(row.privateJwk)) continue;
      row.privateJwk = store.sealer.seal(store.sealer.open(row.privateJwk)) as Record<string, unknown>;
      await row.save({ transaction: t });
      changed++;
    }
    return changed;
  });
}
