import type { JWK } from 'jose';
import { Op } from 'sequelize';
import { inTransaction, type Store } from '../db/store.js';
import { UnavailableError } from '../errors.js';
import { KeySealError, type KeySealer } from './key-sealing.js';
import type { ToolKey } from './lti-models.js';

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

/**
 * A private key sealed under a secret this server lacks stops launches, sessions and roster syncs
 * until the operator restores that secret: 503 (the service is unavailable, no caller can fix it)
 * with the remedy in the log, rather than a 409 telling a student on a launch page to act.
 */
function openPrivateJwk(k: ToolKey, sealer: KeySealer): JWK {
  try {
    return sealer.open(k.privateJwk);
  } catch (err) {
    if (!(err instanceof KeySealError)) throw err;
    throw new UnavailableError(
      `The tool's private key ${k.kid} cannot be opened with this server's TOOL_KEY_SECRET (it was sealed with key id ${err.keyId}): put that key in TOOL_KEY_SECRET_PREVIOUS, then run keys reseal`,
      { cause: err },
    );
  }
}

const toRow = (k: ToolKey, sealer: KeySealer): ToolKeyRow => ({
  kid: k.kid,
  status: k.status,
  public_jwk: k.publicJwk as JWK,
  private_jwk: openPrivateJwk(k, sealer),
  retire_after: k.retireAfter ?? null,
});

/** The active key and those still in their grace period, newest first. */
export async function publishedToolKeys(store: Store): Promise<ToolKeyRow[]> {
  const now = store.sequelize.fn('now');
  const rows = await store.models.ToolKey.findAll({
    where: { [Op.or]: [{ status: 'active' }, { retireAfter: { [Op.gt]: now } }] },
    order: [['createdAt', 'DESC']],
    raw: true,
  });
  return rows.map((r) => toRow(r, store.sealer));
}

export async function hasActiveToolKey(store: Store): Promise<boolean> {
  const has = await store.models.ToolKey.findOne({ where: { status: 'active' }, attributes: ['kid'], raw: true });
  return has !== null;
}

/** Inserts the first active key; a concurrent starter that got there first wins (unique index). */
export async function insertFirstToolKey(store: Store, k: NewToolKey): Promise<void> {
  // Named SQL: ON CONFLICT DO NOTHING settles the race between processes starting at once for the
  // first key (tool_keys_one_active); a model create would throw and need a savepoint to recover.
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
  const { ToolKey } = store.models;
  const now = store.sequelize.fn('now');
  return inTransaction(store, async (t) => {
    // The database's clock, as before: retire_after = now() + the grace period.
    const [, retired] = await ToolKey.update(
      { status: 'retiring', retireAfter: store.sequelize.literal(`now() + ${interval(graceMs)}`) },
      { where: { status: 'active' }, returning: true, transaction: t },
    );
    await ToolKey.create(
      {
        kid: k.kid,
        status: 'active',
        publicJwk: k.publicJwk as Record<string, unknown>,
        privateJwk: store.sealer.seal(k.privateJwk) as Record<string, unknown>,
      },
      { transaction: t },
    );
    const deleted = await ToolKey.destroy({
      where: { status: 'retiring', retireAfter: { [Op.lte]: now } },
      transaction: t,
    });
    return { retired: retired.map((r) => r.kid), deleted };
  });
}

/** What `resealStoredSecrets` moved per kind, and what it could not open (left as it was). */
export interface ResealReport {
  toolKeys: number;
  webhookSecrets: number;
  oneRosterSecrets: number;
  /** Values sealed under a secret this server does not have: they must be entered again (or the key found). */
  unreadable: number;
}

/**
 * Everything sealed at rest under TOOL_KEY_SECRET moved to the current secret, in one transaction:
 * the tool's private keys, webhook endpoint secrets and OneRoster client secrets. Rotating the
 * secret and dropping the previous one is only safe after this (a secret left under the old key
 * could no longer be opened). A value no key here opens is left alone and counted, so one lost
 * school secret does not stop the rest from moving.
 */
export function resealStoredSecrets(store: Store): Promise<ResealReport> {
  return inTransaction(store, async (t) => {
    const { sealer } = store;
    let unreadable = 0;
    const move = async <R extends { save(o: { transaction: typeof t }): Promise<unknown> }>(
      rows: R[],
      field: keyof R,
    ) => {
      let changed = 0;
      for (const row of rows) {
        if (sealer.isCurrent(row[field])) continue;
        let opened: ReturnType<typeof sealer.open>;
        try {
          opened = sealer.open(row[field]);
        } catch (err) {
          if (!(err instanceof KeySealError)) throw err;
          unreadable++;
          continue;
        }
        (row as Record<keyof R, unknown>)[field] = sealer.seal(opened);
        await row.save({ transaction: t });
        changed++;
      }
      return changed;
    };
    const lock = { transaction: t, lock: t.LOCK.UPDATE };
    const toolKeys = await move(await store.models.ToolKey.findAll(lock), 'privateJwk');
    const webhookSecrets = await move(await store.models.WebhookEndpoint.findAll(lock), 'secret');
    const oneRosterSecrets = await move(await store.models.OneRosterConnection.findAll(lock), 'clientSecret');
    return { toolKeys, webhookSecrets, oneRosterSecrets, unreadable };
  });
}

/** A PostgreSQL interval literal of a whole number of milliseconds (Number() makes it numeric text, never user text). */
const interval = (ms: number) => `interval '${Number(ms)} milliseconds'`;
