import { Hono } from 'hono';
import { ConnectionRefusedError, DatabaseError } from 'sequelize';
import { describe, expect, it } from 'vitest';
import { TooManyRowsError } from '../../src/domain/bulk-enrolment.js';
import { LaunchIdentityError } from '../../src/domain/launch-identity.js';
import {
  AppError,
  BadRequestError,
  ConflictError,
  type ErrorCode,
  ForbiddenError,
  InvalidJsonError,
  MethodNotAllowedError,
  NotFoundError,
  NotImplementedError,
  PayloadTooLargeError,
  PreconditionFailedError,
  RateLimitedError,
  SeatLimitError,
  SecretUnreadableError,
  UnauthorizedError,
  UnavailableError,
  UpstreamError,
  ValidationError,
} from '../../src/errors.js';
import {
  createOnError,
  HTTP_STATUS,
  httpHeadersOf,
  httpStatusOf,
  problemJson,
  toAppError,
} from '../../src/http/errors.js';

const pgError = (code: string) =>
  new DatabaseError(Object.assign(new Error(`pg ${code}`), { code, sql: 'SELECT 1', parameters: [] }) as never);

/** One of each error the domain throws, with the status the API answers it with. */
const EVERY_KIND: Array<[AppError, ErrorCode, number]> = [
  [new BadRequestError('no'), 'bad_request', 400],
  [new InvalidJsonError(), 'invalid_json', 400],
  [new ValidationError('title: required'), 'validation_failed', 400],
  [new UnauthorizedError('who are you'), 'unauthorized', 401],
  [new ForbiddenError('not yours'), 'forbidden', 403],
  [new SeatLimitError(2), 'seat_limit_reached', 403],
  [new LaunchIdentityError('no_match', 'ask your school'), 'forbidden', 403],
  [new NotFoundError('gone'), 'not_found', 404],
  [new MethodNotAllowedError('PUT', ['GET']), 'method_not_allowed', 405],
  [new ConflictError('taken'), 'conflict', 409],
  [new ConflictError('ambiguous', { candidates: [{ id: 'a' }, { id: 'b' }] }), 'conflict', 409],
  [new SecretUnreadableError('enter the client secret again'), 'secret_unreadable', 409],
  [new PreconditionFailedError('changed'), 'precondition_failed', 412],
  [new PayloadTooLargeError(1024), 'payload_too_large', 413],
  [new TooManyRowsError(5000), 'payload_too_large', 413],
  [new RateLimitedError(7), 'rate_limited', 429],
  [new AppError('internal', 'boom'), 'internal', 500],
  [new NotImplementedError('/Me'), 'not_implemented', 501],
  [new UpstreamError('platform down'), 'upstream_failed', 502],
  [new UnavailableError('busy'), 'unavailable', 503],
];

describe('domain errors', () => {
  it('carry a code, a message and details, and nothing of HTTP or SCIM', () => {
    for (const [err] of EVERY_KIND) {
      expect(err).not.toHaveProperty('status');
      expect(err).not.toHaveProperty('scimType');
      expect(err).not.toHaveProperty('headers');
    }
  });

  it('expose their message exactly when the failure is the caller’s, not ours', () => {
    for (const [err, , status] of EVERY_KIND) expect(err.expose, err.code).toBe(status < 500);
  });

  it('keep the people an ambiguous reference could mean', () => {
    const err = new ConflictError('x matches 2 people', { candidates: [{ id: 'a' }, { id: 'b' }] });
    expect(err.candidates).toHaveLength(2);
    expect(err.details).toEqual({ candidates: [{ id: 'a' }, { id: 'b' }] });
  });
});

describe('the API maps domain errors to problem JSON (RFC 9457)', () => {
  it('has a status for every code', () => {
    const codes = new Set(EVERY_KIND.map(([, code]) => code));
    expect(new Set(Object.keys(HTTP_STATUS))).toEqual(codes);
  });

  it.each(EVERY_KIND.map(([err, code, status]) => [err.constructor.name, code, status, err] as const))(
    '%s (%s) answers %i',
    (_name, code, status, err) => {
      expect(err.code).toBe(code);
      expect(httpStatusOf(err)).toBe(status);
      expect(problemJson(err, 'req-1')).toMatchObject({ type: 'about:blank', title: code, status, requestId: 'req-1' });
    },
  );

  it('shows the message and details of a 4xx, and hides both for a 5xx', () => {
    expect(problemJson(new SeatLimitError(2))).toMatchObject({
      detail: "The tenant's seat limit of 2 people is reached",
      seatLimit: 2,
    });
    expect(problemJson(new ConflictError('ambiguous', { candidates: [{ id: 'a' }] }))).toMatchObject({
      candidates: [{ id: 'a' }],
    });
    const hidden = problemJson(new AppError('internal', 'secret internals', { details: { sql: 'SELECT' } }));
    expect(hidden.detail).toBe('Internal server error');
    expect(hidden).not.toHaveProperty('sql');
  });

  it('adds the headers a status needs: the challenge, the allowed methods, when to retry', () => {
    expect(httpHeadersOf(new UnauthorizedError('x'))).toEqual({ 'WWW-Authenticate': 'Bearer realm="rosterbridge"' });
    expect(httpHeadersOf(new MethodNotAllowedError('PUT', ['GET', 'POST']))).toEqual({ Allow: 'GET, POST' });
    expect(httpHeadersOf(new RateLimitedError(7))).toEqual({ 'Retry-After': '7' });
    expect(httpHeadersOf(new UnavailableError('busy', { retryAfterSeconds: 1 }))).toEqual({ 'Retry-After': '1' });
    expect(httpHeadersOf(new NotFoundError('gone'))).toEqual({});
  });

  it('answers as application/problem+json with the status and headers', async () => {
    const app = new Hono();
    app.get('/limited', () => {
      throw new RateLimitedError(3);
    });
    app.onError(createOnError([]));
    const res = await app.request('/limited');
    expect(res.status).toBe(429);
    expect(res.headers.get('Content-Type')).toBe('application/problem+json');
    expect(res.headers.get('Retry-After')).toBe('3');
    expect(await res.json()).toMatchObject({ title: 'rate_limited', status: 429 });
  });
});

describe('anything thrown becomes a domain error', () => {
  it('keeps typed errors as they are', () => {
    const e = new ConflictError('taken');
    expect(toAppError(e)).toBe(e);
  });

  it('turns malformed JSON into 400 invalid_json', () => {
    const e = toAppError(new SyntaxError('Unexpected token }'));
    expect(e).toBeInstanceOf(InvalidJsonError);
    expect(httpStatusOf(e)).toBe(400);
  });

  it.each(['40P01', '40001', '55P03'])(
    'answers a transient database failure (%s) with 503 and Retry-After, not 500',
    (code) => {
      const e = toAppError(pgError(code));
      expect(httpStatusOf(e)).toBe(503);
      expect(httpHeadersOf(e)).toEqual({ 'Retry-After': '1' });
    },
  );

  it('answers an unreachable database with 503', () => {
    expect(httpStatusOf(toAppError(new ConnectionRefusedError(new Error('ECONNREFUSED') as never)))).toBe(503);
  });

  it('hides everything else behind a 500 that exposes nothing', () => {
    const e = toAppError(new TypeError('secret internals'));
    expect(httpStatusOf(e)).toBe(500);
    expect(e.expose).toBe(false);
    expect(httpStatusOf(toAppError(pgError('23502')))).toBe(500);
  });
});
