import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SAMPLE_ENROLLMENTS, SAMPLE_USERS, type EnrollmentSpec, type UserSpec } from './oneroster-bundle.js';

/**
 * A OneRoster 1.2 rostering REST API on 127.0.0.1, as a SIS (or ClassLink/Clever's OneRoster
 * endpoint) serves it: an OAuth 2 client-credentials token endpoint (HTTP Basic client auth), and
 * /ims/oneroster/rostering/v1p2/{orgs,academicSessions,courses,classes,users,enrollments} with
 * `limit`/`offset` paging and X-Total-Count. It records every request, and can fail on purpose.
 */
export interface OneRosterApiEmulator {
  url: string;
  baseUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  requests: Array<{ method: string; path: string; query: Record<string, string> }>;
  data: Record<string, Record<string, unknown>[]>;
  /** Answer the next n collection requests with this status (503, 429…). */
  failNext(status: number, n?: number): void;
  setUsers(users: UserSpec[], enrollments?: EnrollmentSpec[]): void;
  close(): Promise<void>;
}

const obj = (sourcedId: string, type: string) => ({ href: `/x/${sourcedId}`, sourcedId, type });

export function userJson(u: UserSpec) {
  return {
    sourcedId: u.id,
    status: u.status ?? 'active',
    dateLastModified: '2026-08-01T00:00:00.000Z',
    enabledUser: u.enabled === false ? 'false' : 'true',
    username: u.username,
    userIds: (u.userIds ?? '')
      .split(',')
      .filter(Boolean)
      .map((x) => {
        const [type, identifier] = x.replace(/[{}]/g, '').split(':');
        return { type, identifier };
      }),
    givenName: u.given,
    familyName: u.family,
    email: u.email ?? '',
    roles: [{ roleType: 'primary', role: u.role, org: obj('school-1', 'org') }],
    primaryOrg: obj('school-1', 'org'),
  };
}

export function enrollmentJson(e: EnrollmentSpec) {
  return {
    sourcedId: e.id,
    status: e.status ?? 'active',
    dateLastModified: '2026-08-01T00:00:00.000Z',
    role: e.role,
    primary: e.role === 'teacher' ? 'true' : 'false',
    user: obj(e.userId, 'user'),
    class: obj(e.classId, 'class'),
    school: obj('school-1', 'org'),
  };
}

export async function startOneRosterApi(): Promise<OneRosterApiEmulator> {
  const clientId = 'rosterbridge-client';
  const clientSecret = 's3cret-of-the-district';
  const tokens = new Set<string>();
  let failures: { status: number; n: number } | null = null;
  const data: Record<string, Record<string, unknown>[]> = {
    orgs: [
      { sourcedId: 'district-1', status: 'active', name: 'Springfield USD', type: 'district', identifier: 'SUSD' },
      {
        sourcedId: 'school-1',
        status: 'active',
        name: 'Lincoln Middle School',
        type: 'school',
        parent: obj('district-1', 'org'),
      },
    ],
    academicSessions: [
      {
        sourcedId: 'term-1',
        status: 'active',
        title: 'Fall 2026',
        type: 'semester',
        startDate: '2026-08-15',
        endDate: '2026-12-20',
        schoolYear: '2027',
      },
    ],
    courses: [
      { sourcedId: 'course-1', status: 'active', title: 'Algebra I', courseCode: 'ALG1', org: obj('school-1', 'org') },
    ],
    classes: ['class-1', 'class-2'].map((id, i) => ({
      sourcedId: id,
      status: 'active',
      title: `Algebra I - Period ${i + 1}`,
      classCode: id.toUpperCase(),
      classType: 'scheduled',
      course: obj('course-1', 'course'),
      school: obj('school-1', 'org'),
      terms: [obj('term-1', 'academicSession')],
    })),
    users: SAMPLE_USERS.map(userJson),
    enrollments: SAMPLE_ENROLLMENTS.map(enrollmentJson),
  };
  const requests: OneRosterApiEmulator['requests'] = [];

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    return text;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams) });
    if (url.pathname === '/oauth/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      const [id, secret] = basic.split(':').map(decodeURIComponent);
      if (id !== clientId || secret !== clientSecret) return send(res, 401, { error: 'invalid_client' });
      if (form.get('grant_type') !== 'client_credentials') return send(res, 400, { error: 'unsupported_grant_type' });
      const token = `tok-${tokens.size + 1}`;
      tokens.add(token);
      return send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: form.get('scope') });
    }
    const m = /^\/ims\/oneroster\/rostering\/v1p2\/(\w+)$/.exec(url.pathname);
    if (!m || !data[m[1]]) return send(res, 404, { imsx_codeMajor: 'failure', imsx_description: 'not found' });
    if (!tokens.has((req.headers.authorization ?? '').replace(/^Bearer /, '')))
      return send(res, 401, { error: 'invalid_token' });
    if (failures && failures.n > 0) {
      failures.n--;
      return send(
        res,
        failures.status,
        { imsx_codeMajor: 'failure' },
        failures.status === 429 ? { 'retry-after': '1' } : {},
      );
    }
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const all = data[m[1]];
    send(res, 200, { [m[1]]: all.slice(offset, offset + limit) }, { 'x-total-count': String(all.length) });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: `${url}/ims/oneroster/rostering/v1p2`,
    tokenUrl: `${url}/oauth/token`,
    clientId,
    clientSecret,
    requests,
    data,
    failNext(status, n = 1) {
      failures = { status, n };
    },
    setUsers(users, enrollments) {
      data.users = users.map(userJson);
      if (enrollments) data.enrollments = enrollments.map(enrollmentJson);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
