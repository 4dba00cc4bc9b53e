import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Op, QueryTypes } from 'sequelize';
import { listenWithReconnect, type Listener } from '../db/listen.js';
import type { ApiTokenAttrs, TenantAttrs, TokenKind } from '../db/models.js';
import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js';
import { recordAudit } from './audit.js';
import { UUID } from '../ids.js';

/**
 * Tenant API tokens. The secret is shown once at creation; only its SHA-256 and a short display
 * prefix are stored. Format: `rb_<kind>_<43 base64url chars>` so a token's kind is visible in logs
 * and secret scanners can recognise it.
 */
export const TOKEN_KINDS = ['scim', 'admin'] as const;
const TOKEN_PATTERN = /^rb_(scim|admin)_[A-Za-z0-9_-]{43}$/;
const PREFIX_LENGTH = 16;
/** last_used_at is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface TokenView {
  id: string;
  tenantId: string;
  kind: TokenKind;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function tokenView(t: ApiTokenAttrs): TokenView {
  return {
    id: t.id,
    tenantId: t.tenantId,
    kind: t.kind,
    name: t.name,
    prefix: t.prefix,
    createdAt: new Date(t.createdAt).toISOString(),
    expiresAt: iso(t.expiresAt),
    revokedAt: iso(t.revokedAt),
    lastUsedAt: iso(t.lastUsedAt),
  };
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Parses "90d", "12h", "30m" into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (!m) throw new ValidationError(`Invalid duration "${text}": use a number and s, m, h, d or w, e.g. 90d`);
  const unit = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new ValidationError(`Invalid duration "${text}": must be positive`);
  return ms;
}

export interface CreateTokenInput {
  tenantId: string;
  kind: TokenKind;
  name?: string;
  expiresAt?: Date | null;
}

export async function createToken(
  store: Store,
  ctx: ActorContext,
  input: CreateTokenInput,
): Promise<{ token: string; view: TokenView }> {
  if (!TOKEN_KINDS.includes(input.kind)) {
    throw new ValidationError(`Token kind must be one of ${TOKEN_KINDS.join(', ')}`);
  }
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
    throw new ValidationError('Token expiry must be in the future');
  }
  const token = `rb_${input.kind}_${randomBytes(32).toString('base64url')}`;
  return inTransaction(store, async (t) => {
    const row = await store.models.ApiToken.create(
      {
        tenantId: input.tenantId,
        kind: input.kind,
        name: input.name?.trim() || `${input.kind} token`,
        tokenHash: hashToken(token),
        prefix: token.slice(0, PREFIX_LENGTH),
        expiresAt: input.expiresAt ?? null,
      },
      { transaction: t },
    );
    const view = tokenView(row.get({ plain: true }));
    await recordAudit(store, t, ctx, {
      tenantId: input.tenantId,
      action: 'token.create',
      targetType: 'api_token',
      targetId: view.id,
      after: view,
    });
    return { token, view };
  });
}

export async function listTokens(store: Store, tenantId?: string): Promise<TokenView[]> {
  const rows = await store.models.ApiToken.findAll({
    where: tenantId ? { tenantId } : {},
    order: [
      ['createdAt', 'ASC'],
      ['id', 'ASC'],
    ],
  });
  return rows.map((r) => tokenView(r.get({ plain: true })));
}

/** Revokes a token by id or display prefix within one tenant. Revoking twice is a no-op. */
export async function revokeToken(store: Store, ctx: ActorContext, tenantId: string, ref: string): Promise<TokenView> {
  return inTransaction(store, async (t) => {
    const isUuid = UUID.test(ref);
    const rows = await store.models.ApiToken.findAll({
      where: { tenantId, ...(isUuid ? { id: ref } : { prefix: ref }) },
      transaction: t,
      lock: t.LOCK.UPDATE,
    });
    if (rows.length === 0) throw new NotFoundError(`No token "${ref}" in this tenant`);
    if (rows.length > 1) throw new ValidationError(`Prefix "${ref}" matches ${rows.length} tokens; use the token id`);
    const row = rows[0];
    const before = tokenView(row.get({ plain: true }));
    if (row.get('revokedAt')) return before;
    await row.update({ revokedAt: new Date() }, { transaction: t });
    t.afterCommit(() => tokensChanged(tenantId));
    const after = tokenView(row.get({ plain: true }));
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'token.revoke',
      targetType: 'api_token',
      targetId: after.id,
      before,
      after,
    });
    return after;
  });
}

interface TokenRow {
  id: string;
  kind: TokenKind;
  tenant_id: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  slug: string;
  name: string;
  status: TenantAttrs['status'];
  seat_limit: number | null;
}

export interface ResolvedToken {
  tokenId: string;
  kind: TokenKind;
  tenant: Pick<TenantAttrs, 'id' | 'slug' | 'name' | 'status' | 'seatLimit'>;
}

export interface TokenResolverOptions {
  /**
   * PostgreSQL URL to LISTEN on 'rb_tokens' (config.databaseListenUrl). With it, resolved tokens are
   * cached until a notification names their tenant (or `ttlMs` passes), and not cached at all while
   * the LISTEN connection is down. Without it (PGlite delivers no notifications) they are cached
   * for `ttlMs` only: in-process writes still drop them at once.
   */
  listenUrl?: string;
  /** Backstop age of a cached token; default 30 s with LISTEN, 1 s without. */
  ttlMs?: number;
  logger?: Logger;
}

interface CachedToken {
  row: TokenRow;
  at: number;
}

/*
 * In-process "a token of this tenant changed" signal (revocation here; the resolver also drops a
 * tenant on PostgreSQL's 'rb_tokens' notification, migrations/0120). Deliberately not the
 * authorization signal (change-signal.ts): that fires on every SCIM write.
 */
const tokenListeners = new Set<(tenantId: string | null) => void>();
function tokensChanged(tenantId: string | null): void {
  for (const fn of tokenListeners) fn(tenantId);
}

/**
 * Resolves an Authorization header to its tenant. Every failure is a 401 that says which check
 * failed (missing, malformed, unknown, revoked, expired); a token of the wrong kind is 403.
 *
 * The token's row (with its tenant) is cached in process by hash (docs/decisions/0008): a SCIM
 * request then costs no statement for authentication. Every check still runs on every request
 * against the cached row (expiry is a moment, compared with the clock each time). The cache drops a
 * tenant's tokens when this process revokes one of them (after commit), when PostgreSQL notifies
 * 'rb_tokens' for the tenant (triggers on api_tokens and tenants, migrations/0120: any process
 * revoked a token or changed the tenant, this one included, within milliseconds), and after
 * `ttlMs` (the only path on PGlite for a tenant changed by another process or a CLI: ≤ 1 s). A
 * read that raced an invalidation is not cached.
 */
export class TokenResolver {
  private lastWritten = new Map<string, number>();
  private readonly cache = new Map<string, CachedToken>();
  private gen = 0;
  private listener: Listener | null = null;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  private readonly ttlMs: number;
  readonly stats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(
    private readonly store: Store,
    private readonly options: TokenResolverOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? (options.listenUrl ? 30_000 : 1_000);
  }

  /** Subscribes to in-process change signals and, with a listenUrl, opens the LISTEN connection. */
  async start(): Promise<void> {
    if (!this.unsubscribe) {
      const fn = (tenantId: string | null) => this.invalidate(tenantId);
      tokenListeners.add(fn);
      const unhook = this.hookModelWrites();
      this.unsubscribe = () => {
        tokenListeners.delete(fn);
        unhook();
      };
    }
    if (this.options.listenUrl && !this.listener) {
      this.listener = listenWithReconnect({
        url: this.options.listenUrl,
        channel: 'rb_tokens',
        name: 'token cache',
        meanwhile: 'tokens are read uncached',
        logger: this.options.logger,
        onReset: () => this.invalidate(null),
        onNotify: (tenantId) => this.invalidate(tenantId || null),
      });
      await this.listener.started;
    }
  }

  /**
   * This process's model writes to tenants and api_tokens (suspension, deletion, renames, seat
   * limits, revocation) drop the tenant at once and again after commit, on either database — so
   * the change is seen by the next request here even before (or without) PostgreSQL's NOTIFY.
   */
  private hookModelWrites(): () => void {
    const sequelize = this.store.sequelize;
    if (typeof sequelize?.addHook !== 'function') return () => {};
    const WATCHED = new Set(['tenants', 'api_tokens']);
    const drop = (tenantId: string | null, transaction: unknown) => {
      this.invalidate(tenantId);
      (transaction as { afterCommit?(fn: () => void): void } | undefined)?.afterCommit?.(() =>
        this.invalidate(tenantId),
      );
    };
    type Row = { constructor: { tableName?: string }; get(k: string): unknown };
    const onRow = (row: Row, options: { transaction?: unknown }) => {
      const table = row.constructor.tableName;
      if (!table || !WATCHED.has(table)) return;
      const tenantId = (table === 'tenants' ? row.get('id') : row.get('tenantId')) as string | undefined;
      drop(tenantId ?? null, options?.transaction);
    };
    const onBulk = (options: { model?: { tableName?: string }; transaction?: unknown; fields?: string[] }) => {
      // touch() below records use (last_used_at only): no token's validity changed.
      if (options?.fields?.length === 1 && options.fields[0] === 'lastUsedAt') return;
      if (options?.model?.tableName && WATCHED.has(options.model.tableName)) drop(null, options.transaction);
    };
    const names = ['afterUpdate', 'afterDestroy', 'afterBulkUpdate', 'afterBulkDestroy'] as const;
    const hookName = `token-cache-${Math.random().toString(36).slice(2)}`;
    sequelize.addHook('afterUpdate', hookName, onRow as never);
    sequelize.addHook('afterDestroy', hookName, onRow as never);
    sequelize.addHook('afterBulkUpdate', hookName, onBulk as never);
    sequelize.addHook('afterBulkDestroy', hookName, onBulk as never);
    return () => {
      for (const n of names) sequelize.removeHook(n, hookName);
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.invalidate(null);
    await this.listener?.stop();
  }

  /** Whether cached rows may be served: on PostgreSQL only while LISTEN is up. */
  private get trusted(): boolean {
    return !this.stopped && (!this.options.listenUrl || this.listener?.up === true);
  }

  /** Drops the cached tokens of a tenant (null: all). */
  invalidate(tenantId: string | null): void {
    this.stats.invalidations++;
    this.gen++;
    if (tenantId === null) this.cache.clear();
    else for (const [k, v] of this.cache) if (v.row.tenant_id === tenantId) this.cache.delete(k);
  }

  private async row(hash: string): Promise<TokenRow | undefined> {
    const now = Date.now();
    const hit = this.trusted ? this.cache.get(hash) : undefined;
    if (hit && now - hit.at < this.ttlMs) {
      this.stats.hits++;
      return hit.row;
    }
    this.stats.misses++;
    const gen = this.gen;
    // Named SQL: one round trip for the token and its live tenant. The model (ApiToken.findOne
    // with the tenant included) measured 556 µs per lookup against 258 µs for this.
    const [row] = await this.store.sequelize.query<TokenRow>(
      `SELECT k.id, k.kind, k.tenant_id, k.expires_at, k.revoked_at, k.last_used_at,
              t.slug, t.name, t.status, t.seat_limit
         FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id AND t.deleted_at IS NULL
        WHERE k.token_hash = $1`,
      { bind: [hash], type: QueryTypes.SELECT },
    );
    // Unknown tokens are never cached (a flood of made-up tokens cannot fill memory).
    if (row && this.trusted && gen === this.gen) {
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(hash, { row, at: now });
    }
    return row;
  }

  async resolve(authorization: string | undefined, required: TokenKind): Promise<ResolvedToken> {
    if (!authorization) throw new UnauthorizedError('Missing bearer token: send "Authorization: Bearer <token>"');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw new UnauthorizedError('Malformed Authorization header: expected "Bearer <token>"');
    const presented = m[1];
    if (!TOKEN_PATTERN.test(presented)) throw new UnauthorizedError('Malformed bearer token');
    const row = await this.row(hashToken(presented));
    if (!row) throw new UnauthorizedError('Unknown bearer token');
    if (row.revoked_at) throw new UnauthorizedError('Bearer token has been revoked');
    if (row.expires_at && new Date(row.expires_at).getTime() <= Date.now()) {
      throw new UnauthorizedError('Bearer token has expired');
    }
    if (row.kind !== required) {
      throw new ForbiddenError(`This endpoint needs a ${required} token; this is a ${row.kind} token`);
    }
    if (row.status !== 'active') throw new ForbiddenError(`Tenant "${row.slug}" is ${row.status}`);
    this.touch(row.id, row.last_used_at);
    return {
      tokenId: row.id,
      kind: row.kind,
      tenant: { id: row.tenant_id, slug: row.slug, name: row.name, status: row.status, seatLimit: row.seat_limit },
    };
  }

  /** Records use at minute resolution without making every request a write. */
  private touch(id: string, lastUsedAt: Date | null): void {
    const now = Date.now();
    const known = Math.max(this.lastWritten.get(id) ?? 0, lastUsedAt ? new Date(lastUsedAt).getTime() : 0);
    if (now - known < LAST_USED_RESOLUTION_MS) return;
    this.lastWritten.set(id, now);
    this.store.models.ApiToken.update(
      { lastUsedAt: new Date(now) },
      {
        where: {
          id,
          [Op.or]: [{ lastUsedAt: null }, { lastUsedAt: { [Op.lt]: new Date(now - LAST_USED_RESOLUTION_MS) } }],
        },
      },
    ).catch(() => this.lastWritten.delete(id)); // best effort: never fail a request over bookkeeping
  }
}

/**
 * A started TokenResolver for a server: LISTENs when the database is PostgreSQL, and stops when the
 * database is closed (apps built on a stub store get one that only caches briefly).
 */
export function startTokenResolver(store: Store, options: TokenResolverOptions = {}): TokenResolver {
  const resolver = new TokenResolver(store, options);
  void resolver
    .start()
    .catch((err) => options.logger?.warn({ err }, 'token cache did not start; tokens are read uncached'));
  if (typeof store.sequelize?.close === 'function') {
    const close = store.sequelize.close.bind(store.sequelize);
    store.sequelize.close = async () => {
      await resolver.stop();
      return close();
    };
  }
  return resolver;
}
