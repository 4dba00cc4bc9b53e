import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ConnectionAcquireTimeoutError, ConnectionError, DatabaseError } from 'sequelize';
import { AppError, InvalidJsonError, PayloadTooLargeError } from '../errors.js';

/**
 * The one place where errors become HTTP responses. Each surface answers in its own format:
 * SCIM in RFC 7644 §3.12 JSON, everything else as RFC 9457 problem+json. 5xx never leak details.
 */
export type ErrorRenderer = (c: Context, err: AppError) => Response | Promise<Response>;

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof SyntaxError) return new InvalidJsonError(`Request body is not valid JSON: ${err.message}`);
  if (err instanceof HTTPException) {
    if (err.status === 413) return new PayloadTooLargeError(0);
    if (err.status === 400) return new InvalidJsonError(err.message || undefined);
    return new AppError(err.status, err.status < 500 ? 'bad_request' : 'internal', err.message || 'Request failed');
  }
  const transient = transientDatabaseError(err);
  if (transient) return new AppError(503, 'unavailable', transient, { cause: err, headers: { 'Retry-After': '1' } });
  return new AppError(500, 'internal', 'Internal server error', { cause: err });
}

/**
 * Failures that say nothing about the request and succeed on retry: a deadlock or serialization
 * conflict PostgreSQL resolved by aborting us, or a database that is unreachable for a moment.
 * Clients get 503 with Retry-After rather than a 500.
 */
function transientDatabaseError(err: unknown): string | null {
  if (err instanceof ConnectionError || err instanceof ConnectionAcquireTimeoutError)
    return 'Database temporarily unavailable; retry';
  if (err instanceof DatabaseError) {
    const code = (err.parent as { code?: string } | undefined)?.code;
    if (code === '40P01' || code === '40001') return 'Concurrent update conflict; retry';
    if (code === '55P03' || code === '57014') return 'Database busy; retry';
  }
  return null;
}

export const renderProblem: ErrorRenderer = (c, err) => {
  const body = {
    type: 'about:blank',
    title: err.code,
    status: err.status,
    detail: err.expose ? err.message : 'Internal server error',
    requestId: c.get('requestId'),
    ...(err.expose && err.details ? err.details : {}),
  };
  return new Response(JSON.stringify(body), {
    status: err.status,
    headers: { 'Content-Type': 'application/problem+json', 'X-Request-Id': c.get('requestId') ?? '', ...err.headers },
  });
};

/** Surfaces register their renderer by path prefix; the longest matching prefix wins. */
export function createOnError(renderers: Array<[prefix: string, render: ErrorRenderer]>) {
  const sorted = [...renderers].sort((a, b) => b[0].length - a[0].length);
  return (err: unknown, c: Context) => {
    const appErr = toAppError(err);
    const log = c.get('logger');
    if (appErr.status >= 500) log?.error({ err, requestId: c.get('requestId') }, 'request failed');
    else log?.debug({ code: appErr.code, msg: appErr.message }, 'request rejected');
    const path = c.req.path;
    const render = sorted.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`))?.[1] ?? renderProblem;
    return render(c, appErr);
  };
}
