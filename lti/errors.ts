import { AppError, type ErrorCode } from '../src/errors.js';

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

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  429: 'rate_limited',
  502: 'unavailable',
  503: 'unavailable',
};

export class LtiError extends AppError {
  constructor(
    readonly check: LtiCheck,
    message: string,
    status = 400,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(status, CODE_BY_STATUS[status] ?? 'bad_request', message, {
      details: { check, ...options.details },
      cause: options.cause,
    });
  }
}
