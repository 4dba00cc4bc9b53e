import type { Logger } from 'pino';
import type { Store } from '../db/store.js';

/**
 * Rows that may be written a moment late: the admin page's provisioning and launch logs. A request
 * hands its row over and goes on; rows are written together, one multi-row INSERT per flush, at most
 * `delayMs` later (or at once when `maxRows` wait). So a SCIM create or a launch pays no statement
 * for its log line. A crash loses at most the last `delayMs` of log lines, never a change: these
 * are logs, the audit trail stays transactional. Readers call `flush` first, so what this process
 * has answered is always listed.
 */
export class WriteBehind<T> {
  private rows: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly options: { delayMs: number; maxRows: number; onError: (err: unknown) => void },
  ) {}

  add(row: T): void {
    // Bounded while the database is away: the oldest waiting lines go first.
    if (this.rows.length >= this.options.maxRows * 50) this.rows.shift();
    this.rows.push(row);
    if (this.rows.length >= this.options.maxRows) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.delayMs).unref();
  }

  /** Writes what waits; resolves once everything handed over so far is written (or failed). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const rows = this.rows.splice(0);
    if (rows.length) this.last = this.last.then(() => this.write(rows)).catch(this.options.onError);
    return this.last;
  }
}

// Keyed by the connection pool, so every Store over one database shares the same buffers.
/**
 * A tenant-bounded log written behind requests: rows are inserted in batches, and each tenant's log
 * is pruned on its first batch and then every `pruneEvery` rows.
 */
export function tenantLogFor<T extends { tenantId: string }>(
  store: Store,
  kind: string,
  o: {
    insert: (rows: T[]) => Promise<unknown>;
    prune: (tenantId: string) => Promise<unknown>;
    pruneEvery: number;
    logger?: Pick<Logger, 'warn'>;
  },
): WriteBehind<T> {
  return writeBehindFor(store, kind, () => {
    const sincePrune = new Map<string, number>();
    return new WriteBehind<T>(
      async (rows) => {
        await o.insert(rows);
        for (const tenantId of new Set(rows.map((r) => r.tenantId))) {
          const before = sincePrune.get(tenantId);
          const n = (before ?? 0) + rows.filter((r) => r.tenantId === tenantId).length;
          sincePrune.set(tenantId, n % o.pruneEvery);
          if (before === undefined || n >= o.pruneEvery) await o.prune(tenantId);
        }
      },
      {
        delayMs: 200,
        maxRows: 200,
        // Bookkeeping never fails a request: a batch that cannot be written is logged and dropped.
        onError: (err) => o.logger?.warn({ err, kind }, 'log entries not written'),
      },
    );
  });
}

export interface LogPageQuery {
  limit?: number;
  /** Only entries older than this id (the previous page's `next`). */
  before?: number;
  failedOnly?: boolean;
}

/**
 * One page of a tenant log, newest first and keyset-paged by id: writes what this process still
 * holds first, clamps the page to 1–200 entries (default 50), and reads one row more than it
 * returns to know whether an older page exists. `read` gets the bind values in the order
 * tenant, before, failedOnly, row count.
 */
export async function pageOfLog<R extends { id: number | string }, I>(
  log: { flush(): Promise<void> },
  tenantId: string,
  q: LogPageQuery,
  read: (bind: [string, number | null, boolean, number]) => Promise<R[]>,
  toItem: (row: R) => I,
): Promise<{ items: I[]; next: number | null }> {
  await log.flush();
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 200);
  const rows = await read([tenantId, q.before ?? null, q.failedOnly ?? false, limit + 1]);
  const page = rows.slice(0, limit);
  return {
    items: page.map(toItem),
    next: rows.length > limit ? Number(page[page.length - 1].id) : null,
  };
}

const buffers = new WeakMap<Store['sequelize'], Map<string, WriteBehind<unknown>>>();

/** The database's buffer of one kind of row, made on first use. */
export function writeBehindFor<T>(store: Store, kind: string, make: () => WriteBehind<T>): WriteBehind<T> {
  let kinds = buffers.get(store.sequelize);
  if (!kinds) buffers.set(store.sequelize, (kinds = new Map()));
  let buffer = kinds.get(kind) as WriteBehind<T> | undefined;
  if (!buffer) kinds.set(kind, (buffer = make()) as WriteBehind<unknown>);
  return buffer;
}

/** Writes everything still waiting (a graceful shutdown, before the database closes). */
export async function flushWriteBehind(store: Store): Promise<void> {
  await Promise.all([...(buffers.get(store.sequelize)?.values() ?? [])].map((b) => b.flush()));
}
