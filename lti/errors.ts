import { AppError, type ErrorCode } from '../src/errors.js';
import { type ErrorRenderer, httpHeadersOf, httpStatusOf, renderProblem } from '../src/http/errors.js';
import { ErrorPage, renderPage } from './pages.js';

/**
 * Which launch check failed. Stable strings (like jose's error codes): the error page names the
 * check, tests assert on it, and admins grep the log for it.
 */
export type LtiCheck =
  | 'request' // missing/malformed form fields
  | 'login' // login initiation parameters
  | 'platform' // no registration for (issuer, client_id)
  | 'state' // unknown, expired or already used state
  | 'browser' // state not bound to this browser
  | 'jwt' // not a JWS compact token
  | 'alg'
  | 'kid'
  | 'signature'
  | 'jwks' // the platform's key set could not be fetched
  | 'iss'
  | 'aud'
  | 'azp'
  | 'exp'
  | 'iat'
  | 'nonce'
  | 'deployment'
  | 'message_type'
  | 'version'
  | 'target_link_uri'
  | 'resource_link'
  | 'context'
  | 'roles'
  | 'sub'
  | 'deep_linking'
  | 'identity' // no person could be matched and JIT is off
  | 'person_inactive' // suspended / deprovisioned
  | 'ticket'
  | 'session'
  | 'registration';

/** The answers a launch check may give, named in domain words (the status follows from the word). */
const CODE_BY_STATUS = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  429: 'rate_limited',
  502: 'upstream_failed',
  503: 'unavailable',
} as const satisfies Record<number, ErrorCode>;

/** A failed LTI check. `answer` says how the failure reads: refused (400), unauthenticated, forbidden, the platform failed. */
export class LtiError extends AppError {
  constructor(
    readonly check: LtiCheck,
    message: string,
    answer: keyof typeof CODE_BY_STATUS = 400,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(CODE_BY_STATUS[answer], message, {
      details: { check, ...options.details },
      cause: options.cause,
    });
  }
}

const JSON_PATHS = new Set(['/lti/session', '/lti/launch/confirm', '/lti/me']);

/** LTI pages answer errors as HTML naming the failed check; the JSON endpoints as problem+json. */
export const renderLtiError: ErrorRenderer = (c, err) => {
  const check = String((err.details as { check?: string } | undefined)?.check ?? err.code);
  const status = httpStatusOf(err);
  const requestId = c.get('requestId') ?? '';
  c.get('logger')?.warn(
    { check, status, detail: err.message, cause: err.cause ? String(err.cause) : undefined },
    'lti request rejected',
  );
  if (JSON_PATHS.has(c.req.path)) return renderProblem(c, err);
  const html = renderPage(
    ErrorPage({
      status,
      check,
      message: err.expose ? err.message : 'Something went wrong on our side.',
      requestId,
    }),
  );
  return new Response(html, {
    status,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'X-Request-Id': requestId,
      'Cache-Control': 'no-store',
      ...httpHeadersOf(err),
    },
  });
};
