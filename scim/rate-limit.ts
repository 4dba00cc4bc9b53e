import type { MiddlewareHandler } from 'hono';
import { RateLimitedError } from '../src/errors.js';

/**
 * Per-token rate limit (token bucket: `perMinute` requests of burst, refilled continuously). In
 * memory, per process: a deployment with several instances divides the budget by instance count.
 * Answers 429 with an integer Retry-After, as Entra and Okta back off on it.
 */
export function rateLimit(perMinute: number, now: () => number = Date.now): MiddlewareHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = perMinute / 60_000;
  return async function rateLimit(c, next) {
    const key = c.get('auth').tokenId;
    const t = now();
    const b = buckets.get(key) ?? { tokens: perMinute, at: t };
    b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
    b.at = t;
    if (b.tokens < 1) {
      buckets.set(key, b);
      throw new RateLimitedError(Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)));
    }
    b.tokens -= 1;
    buckets.set(key, b);
    await next();
  };
}
