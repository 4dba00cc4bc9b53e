import type { MiddlewareHandler } from 'hono';
import { RateLimitedError } from '../src/errors.js';

/**
 * Per-token rate limit (token bucket: `perMinute` requests of burst, refilled continuously). In
 * memory, per process: a deployment with several instances divides the budget by instance count.
 * Answers 429 with an integer Retry-After, as Entra and Okta back off on it. A Bulk request is
 * charged one unit per operation, so batching is not a way around the limit.
 */
export interface RateLimiter {
  middleware: MiddlewareHandler;
  /** Takes `units` more from the token's bucket, or throws 429 taking nothing. */
  charge(tokenId: string, units: number): void;
}

export function createRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = perMinute / 60_000;
  function charge(key: string, units: number) {
    const t = now();
    const b = buckets.get(key) ?? { tokens: perMinute, at: t };
    b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
    b.at = t;
    buckets.set(key, b);
    if (b.tokens < units) throw new RateLimitedError(Math.max(1, Math.ceil((units - b.tokens) / perMs / 1000)));
    b.tokens -= units;
  }
  return {
    charge,
    middleware: async function rateLimit(c, next) {
      charge(c.get('auth').tokenId, 1);
      await next();
    },
  };
}
