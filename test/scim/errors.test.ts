import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import {
  AppError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  InvalidJsonError,
  MethodNotAllowedError,
  NotFoundError,
  NotImplementedError,
  PayloadTooLargeError,
  PreconditionFailedError,
  RateLimitedError,
  SeatLimitError,
  UnauthorizedError,
  UnavailableError,
  UpstreamError,
  ValidationError,
} from '../../src/errors.js';
import { createOnError } from '../../src/http/errors.js';
import {
  isValidScimPair,
  renderScimError,
  SCIM_TYPES_BY_STATUS,
  ScimError,
  type ScimType,
  scimErrorJson,
} from '../../scim/errors.js';
import { URN } from '../../scim/schemas.js';

const KEYWORDS_OF_400: ScimType[] = [
  'invalidFilter',
  'mutability',
  'invalidSyntax',
  'invalidPath',
  'noTarget',
  'invalidValue',
  'invalidVers',
  'sensitive',
  // RFC 9865 (cursor paging)
  'invalidCursor',
  'expiredCursor',
  'invalidCount',
];

describe('the (status, scimType) table of RFC 7644 §3.12', () => {
  it('pairs uniqueness with 409, tooMany with 413 and every other keyword with 400', () => {
    expect(SCIM_TYPES_BY_STATUS).toEqual({ 400: KEYWORDS_OF_400, 409: ['uniqueness'], 413: ['tooMany'] });
    for (const t of KEYWORDS_OF_400) expect(isValidScimPair(400, t), t).toBe(true);
    expect(isValidScimPair(409, 'uniqueness')).toBe(true);
    expect(isValidScimPair(413, 'tooMany')).toBe(true);
  });

  it('rejects any other pair', () => {
    expect(isValidScimPair(404, 'uniqueness')).toBe(false);
    expect(isValidScimPair(400, 'uniqueness')).toBe(false);
    expect(isValidScimPair(400, 'tooMany')).toBe(false);
    expect(isValidScimPair(409, 'invalidValue')).toBe(false);
    expect(isValidScimPair(500, 'invalidSyntax')).toBe(false);
  });

  it('lets every status go without a scimType', () => {
    for (const status of [400, 401, 403, 404, 409, 412, 413, 429, 500, 501, 503])
      expect(isValidScimPair(status, undefined)).toBe(true);
  });

  it('makes an invalid protocol error impossible to construct', () => {
    expect(() => new ScimError(400, 'uniqueness', 'x')).toThrow(TypeError);
    expect(() => new ScimError(409, 'invalidValue', 'x')).toThrow(TypeError);
    expect(() => new ScimError(413, 'invalidSyntax', 'x')).toThrow(TypeError);
    expect(new ScimError(409, 'uniqueness', 'taken')).toMatchObject({ status: 409, scimType: 'uniqueness' });
    expect(new ScimError(413, undefined, 'too many operations')).toMatchObject({ status: 413 });
  });
});

describe('the SCIM surface maps domain errors to SCIM error messages', () => {
  const cases: Array<[string, AppError, string, ScimType | undefined]> = [
    ['bad request', new BadRequestError('no'), '400', 'invalidSyntax'],
    ['malformed JSON', new InvalidJsonError(), '400', 'invalidSyntax'],
    ['validation failed', new ValidationError('bad'), '400', 'invalidValue'],
    ['unauthorized', new UnauthorizedError('who'), '401', undefined],
    ['forbidden', new ForbiddenError('no'), '403', undefined],
    ['seat limit reached', new SeatLimitError(2), '403', undefined],
    ['not found', new NotFoundError('gone'), '404', undefined],
    ['method not allowed', new MethodNotAllowedError('PUT', ['GET']), '405', undefined],
    ['a taken value', new ConflictError('taken'), '409', 'uniqueness'],
    ['an ambiguous reference', new ConflictError('two match', { candidates: [{}, {}] }), '409', undefined],
    ['precondition failed', new PreconditionFailedError('changed'), '412', undefined],
    ['body too large', new PayloadTooLargeError(10), '413', undefined],
    ['rate limited', new RateLimitedError(1), '429', undefined],
    ['internal', new AppError('internal', 'boom'), '500', undefined],
    ['not implemented', new NotImplementedError('/Me'), '501', undefined],
    ['upstream failed', new UpstreamError('down'), '502', undefined],
    ['unavailable', new UnavailableError('busy'), '503', undefined],
    ['a protocol error', new ScimError(400, 'invalidFilter', 'bad filter'), '400', 'invalidFilter'],
    ['a protocol limit', new ScimError(413, undefined, 'too many operations'), '413', undefined],
  ];

  it.each(cases)('%s answers %s', (_name, err, status, scimType) => {
    const body = scimErrorJson(err);
    expect(body.schemas).toEqual([URN.error]);
    expect(body.status).toBe(status);
    if (scimType) expect(body).toMatchObject({ scimType });
    else expect(body).not.toHaveProperty('scimType');
    expect(isValidScimPair(Number(body.status), (body as { scimType?: ScimType }).scimType)).toBe(true);
  });

  it('hides the detail of a failure on our side, except a deliberate 501', () => {
    expect(scimErrorJson(new AppError('internal', 'secret')).detail).toBe('Internal server error');
    expect(scimErrorJson(new NotImplementedError('/Me is not supported')).detail).toBe('/Me is not supported');
    expect(scimErrorJson(new NotFoundError('No such user')).detail).toBe('No such user');
  });

  it('answers as application/scim+json with the headers the status needs', async () => {
    const app = new Hono();
    app.get('/scim/v2/Users', () => {
      throw new UnauthorizedError('Missing bearer token');
    });
    app.onError(createOnError([['/scim', renderScimError]]));
    const res = await app.request('/scim/v2/Users');
    expect(res.status).toBe(401);
    expect(res.headers.get('Content-Type')).toMatch(/^application\/scim\+json/);
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="rosterbridge"');
    expect(await res.json()).toEqual({ schemas: [URN.error], status: '401', detail: 'Missing bearer token' });
  });

  it('answers malformed JSON with 400 invalidSyntax', async () => {
    const app = new Hono();
    app.post('/scim/v2/Users', async (c) => c.json(await c.req.json()));
    app.onError(createOnError([['/scim', renderScimError]]));
    const res = await app.request('/scim/v2/Users', { method: 'POST', body: '{', headers: { 'Content-Type': 'x' } });
    expect(await res.json()).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
  });
});

describe('the domain speaks no protocol', () => {
  const root = join(import.meta.dirname, '../..');
  const filesUnder = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && /\.tsx?$/.test(e.name))
      .map((e) => relative(root, join(e.parentPath, e.name)));
  it('names no SCIM scimType and no HTTP status in src/domain, src/db or src/errors.ts', () => {
    const files = [...filesUnder('src/domain'), ...filesUnder('src/db'), 'src/errors.ts'];
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.flatMap((f) => {
      const text = readFileSync(join(root, f), 'utf8');
      return ['scimType', 'httpStatus'].filter((word) => text.includes(word)).map((word) => `${f}: ${word}`);
    });
    expect(offenders).toEqual([]);
  });

  it('gives the domain errors no status code', () => {
    expect(readFileSync(join(root, 'src/errors.ts'), 'utf8')).not.toMatch(/\b[1-5]\d\d\b/);
  });
});
