import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ConnectionAcquireTimeoutError, ConnectionError, DatabaseError } from 'sequelize';
import {
  AppError,
  type ErrorCode,
  InvalidJsonError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  QueryTimeoutError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from '../errors.js';

/**
 * The one place where domain errors get an HTTP status and headers, and where anything thrown
 * becomes a domain error. The API answers RFC 9457 problem+json; SCIM and LTI register their own
 * renderers (scim/errors.ts, lti/errors.ts), which take the status from here. 5xx never leak details.
 */
export type ErrorRenderer = (c: Context, err: AppError) => Response | Promise<Response>;

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  seat_limit_reached: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  // A stored secret this server's sealing key cannot open. 409, not 500: nothing crashed, it is a
  // known state with a known remedy. Not 503: waiting changes nothing. The stored secret conflicts
  // with the request until the admin enters it again; then the same request succeeds.
  secret_unreadable: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  not_implemented: 501,
  upstream_failed: 502,
  unavailable: 503,
};

export const httpStatusOf = (err: AppError): number => HTTP_STATUS[err.code];

/** Headers a status needs to be usable: the auth challenge, the allowed methods, when to retry. */
export function httpHeadersOf(err: AppError): Record<string, string> {
  if (err instanceof UnauthorizedError) return { 'WWW-Authenticate': 'Bearer realm="rosterbridge"' };
  if (err instanceof MethodNotAllowedError) return { Allow: err.allow.join(', ') };
  if (err instanceof RateLimitedError) return { 'Retry-After': String(err.retryAfterSeconds) };
  if (err instanceof UnavailableError && err.retryAfterSeconds !== undefined)
    return { 'Retry-After': String(err.retryAfterSeconds) };
  return {};
}

const CODE_BY_STATUS = new Map(
  (Object.entries(HTTP_STATUS) as Array<[ErrorCode, number]>).reverse().map(([code, status]) => [status, code]),
);

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof SyntaxError) return new InvalidJsonError(`Request body is not valid JSON: ${err.message}`);
  if (err instanceof HTTPException) {
    if (err.status === 413) return new PayloadTooLargeError(0);
    if (err.status === 400) return new InvalidJsonError(err.message || undefined);
    const code = CODE_BY_STATUS.get(err.status) ?? (err.status < 500 ? 'bad_request' : 'internal');
    return new AppError(code, err.message || 'Request failed');
  }
  if (err instanceof DatabaseError && (err.parent as { code?: string } | undefined)?.code === '57014')
    return new QueryTimeoutError({ cause: err });
  const refused = refusedText(err);
  if (refused) return new ValidationError(refused, { cause: err });
  const transient = transientDatabaseError(err);
  if (transient) return new UnavailableError(transient, { cause: err, retryAfterSeconds: 1 });
  return new AppError('internal', 'Internal server error', { cause: err });
}

/**
 * Text PostgreSQL cannot store (a NUL character, a lone surrogate in JSON): the client's input,
 * wherever it reached the database unchecked, is a 400, not a 500.
 */
function refusedText(err: unknown): string | null {
  if (!(err instanceof DatabaseError)) return null;
  const code = (err.parent as { code?: string } | undefined)?.code;
  // 22021/22P05: NUL or untranslatable character; 22P02: e.g. JSON with an unpaired surrogate escape.
  if (code === '22021' || code === '22P05' || code === '22P02')
    return 'Text may not contain NUL (\\u0000) or unpaired surrogate characters';
  return null;
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
    // The server shutting down, restarting or not yet accepting connections, or the link lost.
    if (code?.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')
      return 'Database temporarily unavailable; retry';
    // node-postgres reports a dead socket without a SQLSTATE.
    if (!code && /not queryable|Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE/i.test(err.message))
      return 'Database temporarily unavailable; retry';
  }
  return null;
}

/** RFC 9457 problem details: `title` is the stable error code, domain details ride along. */
export function problemJson(err: AppError, requestId?: string) {
  return {
    type: 'about:blank',
    title: err.code,
    status: httpStatusOf(err),
    detail: err.expose ? err.message : 'Internal server error',
    requestId,
    ...(err.expose && err.details ? err.details : {}),
  };
}

export const renderProblem: ErrorRenderer = (c, err) => {
  const requestId = c.get('requestId');
  return new Response(JSON.stringify(problemJson(err, requestId)), {
    status: httpStatusOf(err),
    headers: { 'Content-Type': 'application/problem+json', 'X-Request-Id': requestId ?? '', ...httpHeadersOf(err) },
  });
};

/** Surfaces register their renderer by path prefix; the longest matching prefix wins. */
export function createOnError(renderers: Array<[prefix: string, render: ErrorRenderer]>) {
  const sorted = [...renderers].sort((a, b) => b[0].length - a[0].length);
  return (err: unknown, c: Context) => {
    const appErr = toAppError(err);
    const log = c.get('logger');
    if (!appErr.expose) log?.error({ err, requestId: c.get('requestId') }, 'request failed');
    else log?.debug({ code: appErr.code, msg: appErr.message }, 'request rejected');
    const path = c.req.path;
    const render = sorted.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`))?.[1] ?? renderProblem;
    return render(c, appErr);
  };
}
