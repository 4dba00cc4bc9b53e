import type { ErrorRenderer } from '../src/http/errors.js';
import { URN } from './schemas.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/**
 * RFC 7644 §3.12: every SCIM error, including 401, 404, 405, 413 and 429, is a SCIM Error
 * message with `status` as a string and `scimType` where the RFC defines one for that status.
 */
export const renderScimError: ErrorRenderer = (c, err) => {
  // scimType is only meaningful with 400 (and 409 uniqueness, 413 tooMany... per §3.12's table).
  const scimType =
    err.scimType && (err.status === 400 || err.status === 409 || err.status === 413) ? err.scimType : undefined;
  const body = {
    schemas: [URN.error],
    status: String(err.status),
    ...(scimType ? { scimType } : {}),
    // 501 is a deliberate answer (e.g. /Me), not a failure with internals to hide.
    detail: err.expose || err.status === 501 ? err.message : 'Internal server error',
  };
  return new Response(JSON.stringify(body), {
    status: err.status,
    headers: { 'Content-Type': SCIM_CONTENT_TYPE, 'X-Request-Id': c.get('requestId') ?? '', ...err.headers },
  });
};
