import type { Context, MiddlewareHandler } from 'hono';
import { decodeJwt } from 'jose';
import type { Store } from '../db/store.js';
import { recordFailedLaunch, recordLaunch } from '../domain/launch-log.js';
import { recordScimRequest } from '../domain/provisioning-log.js';
import { AppError } from '../errors.js';
import './context.js';

/**
 * The two hooks that feed the school admin page's logs: every SCIM request that got past its
 * token check (into the provisioning log) and every LTI launch (into the launch log, a refused one
 * with the check that refused it). Bookkeeping never fails a request: a write that fails is logged
 * and dropped.
 */

const SCIM_PREFIX = '/scim/v2/';
const ID_SEGMENT = /^[\w.@:-]{1,100}$/;

/** What a SCIM error response says, for the log: the detail of a 4xx, a request id for a 5xx. */
async function scimErrorDetail(c: Context): Promise<string | null> {
  const status = c.res.status;
  if (status < 400) return null;
  if (status >= 500) return `Server error on our side (request ${c.get('requestId') ?? 'unknown'})`;
  if (c.error instanceof AppError && c.error.expose) return c.error.message;
  try {
    const body = (await c.res.clone().json()) as { detail?: unknown; scimType?: unknown };
    if (typeof body.detail === 'string') return body.detail;
  } catch {
    // not JSON: the status says enough
  }
  return null;
}

async function bulkOperations(c: Context): Promise<number | null> {
  try {
    const body = (await c.res.clone().json()) as { Operations?: unknown };
    return Array.isArray(body.Operations) ? body.Operations.length : null;
  } catch {
    return null;
  }
}

/** Middleware for /scim/v2/*: records the request once it has been answered. */
export function scimRequestLog(store: Store): MiddlewareHandler {
  return async function scimRequestLog(c, next) {
    await next();
    const auth = c.get('auth');
    if (auth?.kind !== 'scim') return; // an unauthenticated request belongs to no tenant
    try {
      const [resource = '', second] = c.req.path.slice(c.req.path.indexOf(SCIM_PREFIX) + SCIM_PREFIX.length).split('/');
      let targetId = second && second !== '.search' && ID_SEGMENT.test(second) ? second : null;
      if (!targetId && c.res.status === 201) {
        const location = c.res.headers.get('location');
        const last = location?.split('/').pop();
        if (last && ID_SEGMENT.test(last)) targetId = last;
      }
      recordScimRequest(
        store,
        {
          tenantId: auth.tenant.id,
          method: c.req.method,
          resource: second === '.search' ? `${resource}/.search` : resource || '/',
          targetId,
          operations: resource === 'Bulk' && c.res.status < 400 ? await bulkOperations(c) : null,
          status: c.res.status,
          detail: await scimErrorDetail(c),
          tokenId: auth.tokenId,
          requestId: c.get('requestId') ?? null,
        },
        c.get('logger'),
      );
    } catch (err) {
      c.get('logger')?.warn({ err }, 'provisioning log: entry not written');
    }
  };
}

/** What a launch handler says about a launch it accepted, for the launch log. */
export interface AcceptedLaunch {
  tenantId: string;
  platformId: string;
  deploymentId: string;
  personId: string | null;
  courseId: string | null;
  roles: string[];
}

const shortRole = (role: string) => role.slice(Math.max(role.lastIndexOf('#'), role.lastIndexOf('/')) + 1) || role;

/** Records an accepted launch (called by the launch handler once it has its principal). */
export async function noteLaunch(store: Store, c: Context, launch: AcceptedLaunch): Promise<void> {
  try {
    recordLaunch(
      store,
      { ...launch, roles: launch.roles.map(shortRole), requestId: c.get('requestId') ?? null },
      c.get('logger'),
    );
  } catch (err) {
    c.get('logger')?.warn({ err }, 'launch log: entry not written');
  }
}

/** Middleware for the launch endpoint: a launch it refuses is recorded, with its check, in the log of the school it names. */
export function launchRefusalLog(store: Store): MiddlewareHandler {
  return async function launchRefusalLog(c, next) {
    await next();
    if (c.error && c.req.method === 'POST') await noteRefusal(store, c, c.error);
  };
}

async function noteRefusal(store: Store, c: Context, err: unknown): Promise<void> {
  try {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const idToken = form.id_token;
    if (typeof idToken !== 'string') return;
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(idToken) as Record<string, unknown>;
    } catch {
      return; // not a JWT: nothing names a school
    }
    const deploymentId = claims['https://purl.imsglobal.org/spec/lti/claim/deployment_id'];
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const clientIds = [claims.azp, ...aud].filter((a): a is string => typeof a === 'string' && a !== '');
    if (typeof claims.iss !== 'string' || typeof deploymentId !== 'string' || clientIds.length === 0) return;
    const app = err instanceof AppError ? err : null;
    const check = String((app?.details as { check?: unknown } | undefined)?.check ?? app?.code ?? 'internal');
    await recordFailedLaunch(store, {
      issuer: claims.iss,
      clientIds: [...new Set(clientIds)],
      deploymentId,
      check,
      detail: app?.expose ? app.message : 'Something went wrong on our side',
      requestId: c.get('requestId') ?? null,
    });
  } catch (logErr) {
    c.get('logger')?.warn({ err: logErr }, 'launch log: refusal not written');
  }
}

/** Where a launch lands: the school admin page when the LMS placed the tool's admin link there. */
export const ADMIN_PAGE_PATH = '/app/admin';
export function adminLanding(targetLinkUri: string | undefined): string | null {
  try {
    return targetLinkUri && new URL(targetLinkUri).pathname === ADMIN_PAGE_PATH ? ADMIN_PAGE_PATH : null;
  } catch {
    return null;
  }
}
