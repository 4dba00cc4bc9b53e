/**
 * The service's errors, in domain words only. Domain code throws these; each surface maps them to
 * its own wire format in one place: the API to problem JSON (src/http/errors.ts), SCIM to RFC 7644
 * error messages (scim/errors.ts), LTI to pages naming the failed check (lti/errors.ts). Nothing
 * here knows HTTP or SCIM.
 */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'seat_limit_reached'
  | 'secret_unreadable'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'rate_limited'
  | 'not_implemented'
  | 'unavailable'
  | 'upstream_failed'
  | 'internal';

/** Failures on our side (or a system we depend on): their messages may name internals. */
const OUR_FAULT: ReadonlySet<ErrorCode> = new Set(['internal', 'unavailable', 'not_implemented', 'upstream_failed']);

export interface AppErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly details?: Record<string, unknown>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
  }
  /** Whether the message may be shown to the caller: it describes their request, not our internals. */
  get expose(): boolean {
    return !OUR_FAULT.has(this.code);
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('bad_request', message, options);
  }
}
/**
 * A directory query the domain cannot run: a malformed filter, an attribute that is not there, a
 * sort it cannot do. `reason` lets each surface answer in its own words (SCIM: invalidFilter or
 * invalidValue) and lets the root search tell "not this resource type" apart.
 */
export class InvalidQueryError extends AppError {
  constructor(
    readonly reason: 'invalid_filter' | 'unknown_attribute' | 'invalid_sort',
    message: string,
  ) {
    super('bad_request', message);
  }
}
export class ValidationError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('validation_failed', message, options);
  }
}
export class InvalidJsonError extends AppError {
  constructor(message = 'Request body is not valid JSON') {
    super('invalid_json', message);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super('unauthorized', message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('forbidden', message, options);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('not_found', message, options);
  }
}
export class MethodNotAllowedError extends AppError {
  constructor(
    method: string,
    readonly allow: string[],
  ) {
    super('method_not_allowed', `Method ${method} is not allowed here`, { details: { allow } });
  }
}

export interface ConflictOptions extends AppErrorOptions {
  /** The request named something ambiguous: these are the people it could mean. */
  candidates?: unknown[];
}
/**
 * The request clashes with what exists: a value already taken, a state that does not allow the
 * change, or (with candidates) a reference that matches more than one person.
 */
export class ConflictError extends AppError {
  readonly candidates?: unknown[];
  constructor(message: string, options: ConflictOptions = {}) {
    const { candidates, ...rest } = options;
    super('conflict', message, candidates ? { ...rest, details: { ...rest.details, candidates } } : rest);
    this.candidates = candidates;
  }
}
/**
 * A secret the service keeps sealed at rest (a OneRoster client secret, a webhook signing secret)
 * cannot be opened with this server's sealing keys (TOOL_KEY_SECRET, TOOL_KEY_SECRET_PREVIOUS):
 * the key was rotated without keeping the old one, or lost. Retrying does not help; entering the
 * secret again (or restoring the old key) does. The message says which secret and what to do.
 */
export class SecretUnreadableError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('secret_unreadable', message, options);
  }
}
/** The tenant's seat limit would be exceeded by one more person who holds a seat. */
export class SeatLimitError extends AppError {
  constructor(limit: number) {
    super('seat_limit_reached', `The tenant's seat limit of ${limit} people is reached`, {
      details: { seatLimit: limit },
    });
  }
}
export class PreconditionFailedError extends AppError {
  constructor(message: string) {
    super('precondition_failed', message);
  }
}
/** A size limit is reached: the request body, or rows/operations in one request. */
export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super('payload_too_large', `Request body exceeds the limit of ${limitBytes} bytes`, {
      details: { limitBytes },
    });
  }
}
export class RateLimitedError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super('rate_limited', `Too many requests; retry after ${retryAfterSeconds} s`);
  }
}
export class NotImplementedError extends AppError {
  constructor(message: string) {
    super('not_implemented', message);
  }
}
/** Temporarily unable to serve; when the wait is known, retryAfterSeconds says how long. */
export class UnavailableError extends AppError {
  readonly retryAfterSeconds?: number;
  constructor(message: string, options: AppErrorOptions & { retryAfterSeconds?: number } = {}) {
    const { retryAfterSeconds, ...rest } = options;
    super('unavailable', message, rest);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
/** A system we depend on (an LMS platform, its key set) could not be reached or answered badly. */
export class UpstreamError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('upstream_failed', message, options);
  }
}
/** A query ran past the statement timeout (STATEMENT_TIMEOUT_MS): the request was too costly now; retry. */
export class QueryTimeoutError extends UnavailableError {
  constructor(options: AppErrorOptions = {}) {
    super('The request took too long and was cancelled; retry, or narrow it', { ...options, retryAfterSeconds: 1 });
  }
}
