import { AppError, ConflictError, type ErrorCode, InvalidQueryError } from '../src/errors.js';
import { type ErrorRenderer, httpHeadersOf, httpStatusOf } from '../src/http/errors.js';
import { URN } from './schemas.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** RFC 7644 §3.12 detail error keywords, plus RFC 9865 §2.4's for cursor paging. */
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
  | 'invalidCursor'
  | 'expiredCursor'
  | 'invalidCount';

/**
 * The only (status, scimType) pairs a SCIM error may carry, as RFC 7644 §3.12 defines them (and
 * SCIMMY's ErrorResponse validates): uniqueness goes with 409, tooMany with 413, every other
 * keyword with 400. Any other status carries no scimType.
 */
export const SCIM_TYPES_BY_STATUS: Readonly<Record<number, readonly ScimType[]>> = {
  400: [
    'invalidFilter',
    'mutability',
    'invalidSyntax',
    'invalidPath',
    'noTarget',
    'invalidValue',
    'invalidVers',
    'sensitive',
    'invalidCursor',
    'expiredCursor',
    'invalidCount',
  ],
  409: ['uniqueness'],
  413: ['tooMany'],
};

export const isValidScimPair = (status: number, scimType: ScimType | undefined): boolean =>
  scimType === undefined || (SCIM_TYPES_BY_STATUS[status]?.includes(scimType) ?? false);

const DOMAIN_CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  409: 'conflict',
  413: 'payload_too_large',
};

function checkedCode(status: number, scimType: ScimType | undefined): ErrorCode {
  if (!isValidScimPair(status, scimType))
    throw new TypeError(`scimType "${scimType}" is not valid with status ${status}`);
  return DOMAIN_CODE_BY_STATUS[status];
}

/**
 * An error of the SCIM protocol itself (a filter that does not parse, a PATCH path that names
 * nothing, a read-only attribute): thrown by scim/ code only. Its pair is checked on construction,
 * so an invalid one cannot exist.
 */
export class ScimError extends AppError {
  /** Why, where callers must tell cases apart: a filter naming an attribute this resource lacks. */
  readonly reason?: 'unknown_attribute';
  constructor(
    readonly status: 400 | 409 | 413,
    readonly scimType: ScimType | undefined,
    message: string,
    options: { cause?: unknown; reason?: 'unknown_attribute' } = {},
  ) {
    super(checkedCode(status, scimType), message, { cause: options.cause });
    this.reason = options.reason;
  }
}

/** The scimType a domain error earns on the SCIM surface; undefined where none applies. */
function scimTypeOf(err: AppError): ScimType | undefined {
  if (err instanceof ScimError) return err.scimType;
  if (err instanceof InvalidQueryError) return err.reason === 'invalid_sort' ? 'invalidValue' : 'invalidFilter';
  if (err.code === 'invalid_json') return 'invalidSyntax';
  // A value the domain refuses (too long, malformed, unstorable text) is "invalidValue".
  if (err.code === 'validation_failed') return 'invalidValue';
  if (err.code === 'bad_request') return 'invalidSyntax';
  // A taken value is "uniqueness"; an ambiguous reference (it has candidates) is not.
  if (err.code === 'conflict') return err instanceof ConflictError && err.candidates ? undefined : 'uniqueness';
  return undefined;
}

/** RFC 7644 §3.12 error message: status as a string, scimType only in a pair the table allows. */
export function scimErrorJson(err: AppError) {
  const status = httpStatusOf(err);
  const scimType = scimTypeOf(err);
  return {
    schemas: [URN.error],
    status: String(status),
    ...(scimType && isValidScimPair(status, scimType) ? { scimType } : {}),
    // 501 is a deliberate answer (e.g. /Me), not a failure with internals to hide.
    detail: err.expose || err.code === 'not_implemented' ? err.message : 'Internal server error',
  };
}

/** Every SCIM error, including 401, 404, 405, 413 and 429, is a SCIM Error message (RFC 7644 §3.12). */
export const renderScimError: ErrorRenderer = (c, err) =>
  new Response(JSON.stringify(scimErrorJson(err)), {
    status: httpStatusOf(err),
    headers: { 'Content-Type': SCIM_CONTENT_TYPE, 'X-Request-Id': c.get('requestId') ?? '', ...httpHeadersOf(err) },
  });
