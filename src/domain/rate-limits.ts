import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';
import { RateLimitedError } from '../errors.js';

/**
 * Request budgets per key (a SCIM token), shared by every instance through PostgreSQL
 * (rate-limiter-flexible's RateLimiterPostgres on the rate_limits table), or per process when a
 * deployment asks for it (`memory`: one instance, one statement fewer per request; see
 * docs/decisions/0006). Fixed windows of one minute. Exceeding the budget throws
 * RateLimitedError with whole seconds to wait; a database that cannot answer fails the request
 * like any other query (503), it does not wave it through.
 */
export interface UsageLimiter {
  /** Spends `units` of the key's budget for this minute, or throws RateLimitedError spending nothing. */
  charge(key: string, units: number): Promise<void>;
}

export type LimiterStore = 'database' | 'memory';

export function createUsageLimiter(
  store: Store,
  options: { prefix: string; perMinute: number; storeIn: LimiterStore },
): UsageLimiter {
  const common = { keyPrefix: options.prefix, points: options.perMinute, duration: 60 };
  const limiter =
    options.storeIn === 'memory'
      ? new RateLimiterMemory(common)
      : new RateLimiterPostgres({
          ...common,
          tableName: 'rate_limits',
          tableCreated: true, // migrations/0061_rate_limits.sql
          storeType: 'client',
          // Unnamed statements through the app's own pool: named prepared statements would break
          // behind PgBouncer in transaction mode (docs/operations.md).
          storeClient: {
            query: async (q: { text: string; values: unknown[] }) => ({ rows: await select(store, q.text, q.values) }),
          },
        });
  return {
    async charge(key, units) {
      try {
        await limiter.consume(key, units);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          // A refused request takes nothing: give back what consume() added past the budget.
          await limiter.reward(key, units).catch(() => undefined);
          throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
        }
        throw err;
      }
    },
  };
}
