import { serve, type ServerType } from '@hono/node-server';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';

/**
 * An LMS's Names and Role Provisioning Service on a real socket, as a tool meets one (LTI-NOTES §2):
 *   - POST /token: client credentials with a JWT client assertion, verified against the tool's
 *     JWKS (iss = sub = client_id, aud = this URL, exp ≤ 5 min after iat, jti never seen before,
 *     the NRPS scope); answers a bearer token for `tokenLifetime` seconds;
 *   - GET /contexts/:id/memberships: the course's members, `pageSize` per page with
 *     `Link: <…>; rel="next"`, and `rel="differences"` pointing at `?since=<version>`, which lists
 *     what changed since (removed members as status Deleted);
 *   - faults on demand: any status (with Retry-After and a body), a delay (timeouts), a malformed
 *     page, for the next N token or member requests.
 */
export const NRPS_SCOPE = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly';
export const NRPS_CLAIM = 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice';
export const MEMBERSHIP = 'http://purl.imsglobal.org/vocab/lis/v2/membership#';

export interface NrpsMember {
  user_id: string;
  roles: string[];
  status?: 'Active' | 'Inactive' | 'Deleted';
  name?: string;
  given_name?: string;
  family_name?: string;
  email?: string;
  lis_person_sourcedid?: string;
  [extra: string]: unknown;
}

export type NrpsFault =
  | { status: number; retryAfter?: string; body?: string }
  | { delayMs: number }
  | { malformed: 'not-json' | 'no-members' | 'bad-member' };

export interface TokenRequest {
  ok: boolean;
  why?: string;
  claims?: Record<string, unknown>;
}

export interface NrpsPlatform {
  url: string;
  tokenUrl: string;
  clientId: string;
  /** The NRPS claim a launch from this course carries. */
  claim(contextId: string): Record<string, unknown>;
  membershipsUrl(contextId: string): string;
  /** Sets the course's roster; what changed is recorded for its differences feed. */
  setRoster(contextId: string, members: NrpsMember[]): void;
  /** The tool's key set the token endpoint trusts (its /lti/jwks URL, or the keys themselves). */
  trustTool(jwks: string | (() => Promise<JSONWebKeySet>)): void;
  /** The next `times` requests to `on` answer with this fault. */
  inject(on: 'token' | 'members', fault: NrpsFault, times?: number): void;
  /** Tokens issued so far stop working (the service answers 401). */
  revokeTokens(): void;
  tokenRequests: TokenRequest[];
  memberRequests: Array<{ url: string; authorized: boolean }>;
  pageSize: number;
  tokenLifetime: number;
  close(): Promise<void>;
}

interface Course {
  current: Map<string, NrpsMember>;
  log: Array<{ version: number; member: NrpsMember }>;
}

export async function startNrpsPlatform(options: { clientId?: string; pageSize?: number } = {}): Promise<NrpsPlatform> {
  const app = new Hono();
  const courses = new Map<string, Course>();
  const faults: Record<'token' | 'members', NrpsFault[]> = { token: [], members: [] };
  const tokens = new Set<string>();
  const jtis = new Set<string>();
  let version = 0;
  let keySet: ((header: never, token: never) => Promise<never>) | undefined;
  let base = '';

  type Malformed = Extract<NrpsFault, { malformed: string }>['malformed'];
  const takeFault = async (on: 'token' | 'members'): Promise<Response | Malformed | null> => {
    const f = faults[on].shift();
    if (!f) return null;
    if ('delayMs' in f) {
      await new Promise((r) => setTimeout(r, f.delayMs));
      return null;
    }
    if ('malformed' in f) return f.malformed;
    return new Response(f.body ?? JSON.stringify({ error: 'injected', error_description: `HTTP ${f.status}` }), {
      status: f.status,
      headers: { 'content-type': 'application/json', ...(f.retryAfter ? { 'retry-after': f.retryAfter } : {}) },
    });
  };

  app.post('/token', async (c) => {
    const fault = await takeFault('token');
    if (fault instanceof Response) return fault;
    const form = await c.req.parseBody();
    const refuse = (why: string) => {
      self.tokenRequests.push({ ok: false, why });
      return c.json({ error: 'invalid_client', error_description: why }, 401);
    };
    if (form.grant_type !== 'client_credentials') return refuse('grant_type');
    if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      return refuse('client_assertion_type');
    if (
      !String(form.scope ?? '')
        .split(' ')
        .includes(NRPS_SCOPE)
    )
      return refuse('scope');
    if (!keySet) return refuse('no tool key set configured');
    let claims: Record<string, unknown>;
    try {
      const v = await jwtVerify(String(form.client_assertion), keySet as never, {
        issuer: self.clientId,
        subject: self.clientId,
        audience: self.tokenUrl,
        algorithms: ['RS256'],
        maxTokenAge: '5m',
      });
      claims = v.payload as Record<string, unknown>;
    } catch (err) {
      return refuse(`assertion: ${(err as Error).message}`);
    }
    const { iat, exp, jti } = claims as { iat?: number; exp?: number; jti?: string };
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > 300) return refuse('lifetime');
    if (typeof jti !== 'string' || jtis.has(jti)) return refuse('jti replayed');
    jtis.add(jti);
    const token = randomUUID();
    tokens.add(token);
    self.tokenRequests.push({ ok: true, claims });
    return c.json({ access_token: token, token_type: 'Bearer', expires_in: self.tokenLifetime, scope: NRPS_SCOPE });
  });

  app.get('/contexts/:id/memberships', async (c) => {
    const auth = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    const authorized = auth !== undefined && tokens.has(auth);
    self.memberRequests.push({ url: c.req.url, authorized });
    const fault = await takeFault('members');
    if (fault instanceof Response) return fault;
    if (!authorized) return c.json({ error: 'invalid_token' }, 401);
    if (c.req.header('accept') !== 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json')
      return c.text('not acceptable', 406);
    const id = c.req.param('id');
    const course = courses.get(id);
    if (!course) return c.json({ error: 'no such context' }, 404);
    if (fault === 'not-json') return c.text('{"members": [ {"user_id": ', 200);
    if (fault === 'no-members') return c.json({ id: c.req.url, context: { id } });
    if (fault === 'bad-member') return c.json({ id: c.req.url, members: [{ roles: [`${MEMBERSHIP}Learner`] }] });
    const q = new URL(c.req.url).searchParams;
    const since = q.get('since');
    let members: NrpsMember[];
    if (since !== null) {
      const latest = new Map<string, NrpsMember>();
      for (const e of course.log) if (e.version > Number(since)) latest.set(e.member.user_id, e.member);
      members = [...latest.values()];
    } else members = [...course.current.values()];
    const page = Number(q.get('page') ?? '0');
    const slice = members.slice(page * self.pageSize, (page + 1) * self.pageSize);
    const links: string[] = [];
    if ((page + 1) * self.pageSize < members.length) {
      const next = new URL(c.req.url);
      next.searchParams.set('page', String(page + 1));
      links.push(`<${next}>; rel="next"`);
    }
    links.push(`<${base}/contexts/${encodeURIComponent(id)}/memberships?since=${version}>; rel="differences"`);
    return c.body(JSON.stringify({ id: c.req.url, context: { id, title: `Course ${id}` }, members: slice }), 200, {
      'content-type': 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json',
      link: links.join(', '),
    });
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const self: NrpsPlatform = {
    url: base,
    tokenUrl: `${base}/token`,
    clientId: options.clientId ?? 'emulator-client',
    pageSize: options.pageSize ?? 50,
    tokenLifetime: 3600,
    tokenRequests: [],
    memberRequests: [],
    membershipsUrl: (contextId) => `${base}/contexts/${encodeURIComponent(contextId)}/memberships`,
    claim: (contextId) => ({ context_memberships_url: self.membershipsUrl(contextId), service_versions: ['2.0'] }),
    setRoster(contextId, members) {
      const course: Course = courses.get(contextId) ?? { current: new Map(), log: [] };
      courses.set(contextId, course);
      version++;
      const next = new Map<string, NrpsMember>(members.map((m) => [m.user_id, { status: 'Active', ...m }]));
      for (const [id, m] of course.current)
        if (!next.has(id)) course.log.push({ version, member: { user_id: id, roles: m.roles, status: 'Deleted' } });
      for (const [id, m] of next)
        if (JSON.stringify(course.current.get(id)) !== JSON.stringify(m)) course.log.push({ version, member: m });
      course.current = next;
    },
    trustTool(jwks) {
      keySet = (
        typeof jwks === 'string'
          ? createRemoteJWKSet(new URL(jwks))
          : async (header: never, token: never) => createLocalJWKSet(await jwks())(header, token)
      ) as never;
    },
    inject(on, fault, times = 1) {
      for (let i = 0; i < times; i++) faults[on].push(fault);
    },
    revokeTokens: () => tokens.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        (server as import('node:http').Server).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
  return self;
}

export const member = (
  userId: string,
  role: 'Learner' | 'Instructor' | 'TeachingAssistant' = 'Learner',
  more: Partial<NrpsMember> = {},
): NrpsMember => ({
  user_id: userId,
  roles: [`${MEMBERSHIP}${role}`],
  name: `Person ${userId}`,
  ...more,
});
