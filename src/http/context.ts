import type { Logger } from 'pino';
import type { ResolvedToken } from '../domain/tokens.js';

declare module 'hono' {
  interface ContextVariableMap {
    requestId: string;
    logger: Logger;
    auth: ResolvedToken;
  }
}

/**
 * A course admin acting through an LTI launch session (lti/ issues and verifies it). The privileges
 * API accepts either a tenant admin token (c.var.auth) or this (c.var.session).
 */
export interface SessionPrincipal {
  tenantId: string;
  /** null for an anonymous launch */
  personId: string | null;
  courseId: string | null;
  /** LTI role URIs of the launch */
  roles: string[];
}
declare module 'hono' {
  interface ContextVariableMap {
    session: SessionPrincipal;
  }
}
