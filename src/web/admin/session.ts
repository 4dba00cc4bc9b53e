import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Config } from '../../config.js';

/**
 * The admin page's cookie and its CSRF token. The cookie holds the session secret (HttpOnly,
 * Secure when PUBLIC_URL is https, never in a URL). A page signed in by pasting a token is a
 * top-level page: SameSite=Lax. One opened by an LMS launch lives in the LMS's iframe: over https
 * SameSite=None, Partitioned (CHIPS), as the LTI session cookie. Writes carry a CSRF token derived
 * from the secret (HMAC), so nothing needs storing and another site cannot know it; their Origin,
 * when sent, must be ours.
 */
export const ADMIN_COOKIE = 'rb_admin';
export const ADMIN_COOKIE_PATH = '/app/admin';

export function setAdminCookie(c: Context, config: Config, secret: string, via: 'token' | 'lti', expiresAt: Date) {
  const secure = config.publicUrl.startsWith('https://');
  const embedded = via === 'lti' && secure;
  setCookie(c, ADMIN_COOKIE, secret, {
    path: ADMIN_COOKIE_PATH,
    httpOnly: true,
    secure,
    sameSite: embedded ? 'None' : 'Lax',
    ...(embedded ? { partitioned: true } : {}),
    maxAge: Math.max(1, Math.floor((expiresAt.getTime() - Date.now()) / 1000)),
  });
}

export function clearAdminCookie(c: Context, config: Config) {
  const secure = config.publicUrl.startsWith('https://');
  deleteCookie(c, ADMIN_COOKIE, { path: ADMIN_COOKIE_PATH, secure });
}

export const adminCookie = (c: Context) => getCookie(c, ADMIN_COOKIE);

export const csrfToken = (secret: string) =>
  createHmac('sha256', secret).update('rosterbridge admin csrf').digest('base64url');

export function csrfMatches(secret: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const want = Buffer.from(csrfToken(secret));
  const got = Buffer.from(presented);
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * Whether a form post came from this site. Browsers say so in Sec-Fetch-Site; pages sent with
 * Referrer-Policy: no-referrer post with `Origin: null`, so Origin is only compared when it names
 * one. Requests from no browser at all (scripts, tests) rely on the CSRF token.
 */
export function sameOrigin(c: Context, config: Config): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = c.req.header('origin');
  if (!origin || origin === 'null') return true;
  return origin === new URL(config.publicUrl).origin;
}
