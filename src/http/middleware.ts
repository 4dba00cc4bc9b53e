import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Counter, Histogram } from 'prom-client';
import type { TokenKind } from '../db/models.js';
import type { TokenResolver } from '../domain/tokens.js';
import { PayloadTooLargeError } from '../errors.js';
import { randomUUID } from 'node:crypto';

/** Accepts a caller's X-Request-Id when it looks sane (so traces join up), otherwise makes one. */
export function requestContext(logger: Logger): MiddlewareHandler {
  return async function requestContext(c, next) {
    const incoming = c.req.header('x-request-id');
    const id = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    c.set('requestId', id);
    c.set('logger', logger.child({ requestId: id }));
    c.header('X-Request-Id', id);
    await next();
  };
}

export function accessLog(metrics: { requests: Counter<string>; duration: Histogram<string> }): MiddlewareHandler {
  return async function accessLog(c, next) {
    const started = performance.now();
    await next();
    const ms = performance.now() - started;
    const route = c.req.routePath || 'unmatched';
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.duration.observe({ method: c.req.method, route }, ms / 1000);
    c.get('logger').info(
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(ms * 10) / 10 },
      'request',
    );
  };
}

/**
 * Rejects bodies over the limit before reading them when Content-Length says so, and while
 * reading otherwise (chunked uploads), with a 413 from the error hierarchy. The request object is
 * only touched for chunked bodies: building it costs more than the rest of a small request.
 */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return async function bodyLimit(c, next) {
    const length = c.req.header('content-length');
    if (length !== undefined) {
      if (Number(length) > maxBytes) throw new PayloadTooLargeError(maxBytes);
      return next();
    }
    if (c.req.header('transfer-encoding') === undefined) return next(); // no body at all
    const raw = c.req.raw;
    if (!raw.body) return next();
    let seen = 0;
    const limited = raw.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > maxBytes) controller.error(new PayloadTooLargeError(maxBytes));
          else controller.enqueue(chunk);
        },
      }),
    );
    c.req.raw = new Request(raw, { body: limited, duplex: 'half' } as RequestInit);
    return next();
  };
}

/** Resolves the bearer token to its tenant (401/403 otherwise) and puts it on the context. */
export function requireToken(resolver: TokenResolver, kind: TokenKind): MiddlewareHandler {
  return async function requireToken(c, next) {
    c.set('auth', await resolver.resolve(c.req.header('authorization'), kind));
    await next();
  };
}
