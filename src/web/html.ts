import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';

/**
 * HTML helpers shared by every server-rendered page (src/web and lti/): the CSP builder, a nonce,
 * JSON that is safe inside a <script> element, and the response with the headers every page sends.
 */

/** A fresh per-response nonce for the page's <script> and <style> elements. */
export const newNonce = (): string => randomBytes(16).toString('base64');

/** JSON safe inside <script type="application/json">: no "</script>", no comment openers, no U+2028/9. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export interface CspOptions {
  /** Scripts and styles carry this nonce; without one the page runs no script at all. */
  nonce?: string;
  /**
   * Who may frame the page: the launching platforms' origins (from their registrations), `'self'`
   * only ([]), or any (`'*'`, for the LTI login pages that run before the platform is known).
   */
  frameAncestors: readonly string[] | '*';
  /** Where forms may post; default 'self'. The LTI pages post to the platform. */
  formAction?: readonly string[];
}

/** An origin a CSP source list accepts (scheme://host[:port]); anything else is dropped. */
export function cspOrigin(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : null;
  } catch {
    return null;
  }
}

export function contentSecurityPolicy(o: CspOptions): string {
  const ancestors =
    o.frameAncestors === '*' ? '*' : ["'self'", ...new Set(o.frameAncestors.map(cspOrigin).filter(Boolean))].join(' ');
  return [
    "default-src 'none'",
    o.nonce ? `script-src 'nonce-${o.nonce}'` : "script-src 'none'",
    o.nonce ? `style-src 'nonce-${o.nonce}'` : "style-src 'none'",
    "img-src 'self' data:",
    "connect-src 'self'",
    `form-action ${(o.formAction ?? ["'self'"]).join(' ')}`,
    `frame-ancestors ${ancestors}`,
    "base-uri 'none'",
  ].join('; ');
}

export const renderDocument = (node: unknown): string => `<!doctype html>${String(node)}`;

/** The response for a page: HTML, the CSP, never cached, no referrer, no sniffing. */
export function htmlResponse(
  c: Context,
  node: unknown,
  csp: CspOptions,
  status: 200 | 400 | 401 | 403 | 404 | 500 = 200,
): Response {
  return c.body(renderDocument(node), status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': contentSecurityPolicy(csp),
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
  });
}
