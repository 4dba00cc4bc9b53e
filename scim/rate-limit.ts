import type { MiddlewareHandler } from 'hono';
import type { Store } from '../src/db/store.js';
import { createUsageLimiter, type LimiterStore } from '../src/domain/rate-limits.js';

/**
 * Per-token SCIM rate limit: `perMinute` requests per token per minute, shared by every instance
 * (src/domain/rate-limits.ts). Answers 429 with an integer Retry-After, as Entra and Okta back
 * off on it. A Bulk request is charged one unit per operation, so batching is not a way around it.
 */
export interface RateLimiter {
  middleware: MiddlewareHandler;
  /** Takes `units` more from the token's budget, or throws 429. */
  charge(tokenId: string, units: number): Promise<void>;
}

export function createRateLimiter(store: Store, perMinute: number, storeIn: LimiterStore): RateLimiter {
  const limiter = createUsageLimiter(store, { prefix: 'scim', perMinute, storeIn });
  return {
    charge: (tokenId, units) => limiter.charge(tokenId, units),
    middleware: async function rateLimit(c, next) {
      await limiter.charge(c.get('auth').tokenId, 1);
      await next();
    },
  };
}
