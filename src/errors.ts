/**
 * One error hierarchy for the whole service. Domain code throws these; each HTTP surface maps them
 * to its wire format in exactly one place (app.onError). `expose` is false for 5xx so internal
 * details never reach a client.
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
  | 'precondition_failed'
  | 'payload_too_large'
  | 'rate_limited'
  | 'not_implemented'
  | 'unavailable'
  | 'internal';

/** RFC 7644 §3.12 scimType values, carried so the SCIM surface can answer in its own terms. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'
  // RFC 9865 §2.4 (cursor paging)
  | 'invalidCursor'
  | 'expiredCursor'
  | 'invalidCount';

export interface AppErrorOptions {
  details?: Record<string, unknown>;
  scimType?: ScimType;
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly details?: Record<string, unknown>;
  readonly scimType?: ScimType;
  readonly headers?: Record<string, string>;
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
    this.scimType = options.scimType;
    this.headers = options.headers;
  }
  get expose(): boolean {
    return this.status < 500;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'bad_request', message, options);
  }
}
export class ValidationError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'validation_failed', message, options);
  }
}
export class InvalidJsonError extends AppError {
  constructor(message = 'Request body is not valid JSON') {
    super(400, 'invalid_json', message, { scimType: 'invalidSyntax' });
  }
}
export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super(401, 'unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer realm="rosterbridge"' } });
  }
}
export class ForbiddenError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(403, 'forbidden', message, options);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(404, 'not_found', message, options);
  }
}
export class MethodNotAllowedError extends AppError {
  constructor(method: string, allow: string[]) {
    super(405, 'method_not_allowed', `Method ${method} is not allowed here`, {
      headers: { Allow: allow.join(', ') },
      details: { allow },
    });
  }
}
export class ConflictError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(409, 'conflict', message, { scimType: 'uniqueness', ...options });
  }
}
/** The tenant's seat limit would be exceeded by one more person who holds a seat. */
export class SeatLimitError extends AppError {
  constructor(limit: number) {
    super(403, 'seat_limit_reached', `The tenant's seat limit of ${limit} people is reached`, {
      details: { seatLimit: limit },
    });
  }
}
export class PreconditionFailedError extends AppError {
  constructor(message: string) {
    super(412, 'precondition_failed', message);
  }
}
export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `Request body exceeds the limit of ${limitBytes} bytes`, {
      details: { limitBytes },
    });
  }
}
export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limited', `Too many requests; retry after ${retryAfterSeconds} s`, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
export class NotImplementedError extends AppError {
  constructor(message: string) {
    super(501, 'not_implemented', message);
  }
}
export class UnavailableError extends AppError {
  constructor(message: string) {
    super(503, 'unavailable', message);
  }
}
