import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCIM_TYPES_BY_STATUS } from '../../scim/errors.js';
import { createToken } from '../../src/domain/tokens.js';
import { resourceLaunch, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { Browser, signCompact } from '../support/platform-emulator.js';
import {
  bulkBody,
  claimMutation,
  enrolmentBody,
  grantsBody,
  headerMutation,
  patchBody,
  personRef,
  rawBody,
  scimFilter,
  tamper,
} from './arbitraries.js';

/**
 * Generated input on every surface, over real HTTP: never a 5xx, never a crash, and always the
 * surface's own error shape — SCIM error JSON (with a scimType on 400), problem JSON on the API,
 * an LTI page naming the failed check. FUZZ_RUNS cases per surface (CI: 1,000; `npm run fuzz`:
 * 10,000); the counts are printed at the end.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCIM_TYPES = new Set<string>(SCIM_TYPES_BY_STATUS[400]);

let env: LtiEnv;
let scimToken: string;
let userId: string;
let courseId: string;
const tally: Record<string, { cases: number; statuses: Record<number, number> }> = {};

function count(surface: string, status: number) {
  const t = (tally[surface] ??= { cases: 0, statuses: {} });
  t.cases++;
  t.statuses[status] = (t.statuses[status] ?? 0) + 1;
}

beforeAll(async () => {
  // The SCIM rate limit is tested elsewhere; here it would answer 429 before the input is read.
  env = await startLtiEnv({}, {}, { SCIM_RATE_LIMIT_PER_MINUTE: '10000000' });
  scimToken = (await createToken(env.store, { actor: 'fuzz' }, { tenantId: env.tenant.id, kind: 'scim' })).token;
  const user = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'fuzz.target@school.example',
    emails: [{ value: 'fuzz.target@school.example', primary: true }],
  });
  userId = ((await user.json()) as { id: string }).id;
  const course = await api('POST', '/courses', JSON.stringify({ title: 'Fuzzing 101' }));
  courseId = ((await course.json()) as { id: string }).id;
}, 120_000);
afterAll(async () => {
  for (const [surface, t] of Object.entries(tally))
    console.log(`fuzz ${surface}: ${t.cases} cases, statuses ${JSON.stringify(t.statuses)}`);
  await env?.close();
});

function scim(method: string, path: string, body?: unknown, raw?: string): Promise<Response> {
  return fetch(`${env.toolUrl}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
}
function api(method: string, path: string, raw?: string): Promise<Response> {
  return fetch(`${env.toolUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${env.adminToken}`, 'content-type': 'application/json' },
    body: raw,
  });
}

/** Never 5xx; an error is SCIM error JSON whose status matches, with a known scimType on 400. */
async function expectScimShape(surface: string, res: Response): Promise<unknown> {
  count(surface, res.status);
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBeLessThan(500);
  if (res.status < 400) return text ? JSON.parse(text) : null;
  const body = JSON.parse(text) as { schemas?: string[]; status?: string; scimType?: string };
  expect(body.schemas, text.slice(0, 300)).toContain(SCIM_ERROR);
  expect(body.status).toBe(String(res.status));
  if (res.status === 400) expect(SCIM_TYPES.has(body.scimType ?? ''), text.slice(0, 300)).toBe(true);
  return body;
}

async function expectProblem(surface: string, res: Response): Promise<void> {
  count(surface, res.status);
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBeLessThan(500);
  if (res.status < 400) return;
  // Bulk pre-enrolment answers 422 "no row succeeded" with its per-row report, not a problem.
  if (res.status === 422 && res.headers.get('content-type')?.startsWith('application/json')) {
    expect(Array.isArray((JSON.parse(text) as { results?: unknown }).results), text.slice(0, 300)).toBe(true);
    return;
  }
  expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  const body = JSON.parse(text) as { title?: string; status?: number; detail?: string };
  expect(body.status).toBe(res.status);
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
}

/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, as a client's encoder would send). */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const options = { numRuns: RUNS, endOnFailure: true } as const;

describe(`fuzzing, ${RUNS} cases per surface`, () => {
  it('SCIM filters (GET and /.search)', async () => {
    await fc.assert(
      fc.asyncProperty(scimFilter, fc.boolean(), async (filter, viaSearch) => {
        const res = viaSearch
          ? await scim('POST', '/Users/.search', {
              schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
              filter,
            })
          : await scim('GET', `/Users?filter=${pct(filter)}`);
        await expectScimShape('scim-filter', res);
      }),
      options,
    );
  }, 600_000);

  it('SCIM PATCH bodies', async () => {
    await fc.assert(
      fc.asyncProperty(patchBody, async (body) => {
        await expectScimShape('scim-patch', await scim('PATCH', `/Users/${userId}`, body));
      }),
      options,
    );
  }, 600_000);

  it('SCIM Bulk bodies: every operation answers too, none with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(bulkBody, async (body) => {
        const out = (await expectScimShape('scim-bulk', await scim('POST', '/Bulk', body))) as {
          Operations?: Array<{ status: string }>;
        } | null;
        for (const op of out?.Operations ?? []) expect(Number(op.status)).toBeLessThan(500);
      }),
      options,
    );
  }, 600_000);

  it('SCIM and API raw bodies: broken JSON, deep nesting, huge strings', async () => {
    await fc.assert(
      fc.asyncProperty(rawBody, fc.boolean(), async (raw, toScim) => {
        if (toScim) await expectScimShape('raw-scim', await scim('POST', '/Users', undefined, raw));
        else await expectProblem('raw-api', await api('PUT', `/courses/${courseId}/privileges/email:x@y.example`, raw));
      }),
      options,
    );
  }, 600_000);

  it('privileges API: grants, references and bulk rows', async () => {
    await fc.assert(
      fc.asyncProperty(personRef, grantsBody, enrolmentBody, fc.nat(2), async (ref, grants, rows, which) => {
        const path = `/courses/${courseId}`;
        const res =
          which === 0
            ? await api('PUT', `${path}/privileges/${pct(ref)}`, JSON.stringify(grants))
            : which === 1
              ? await api('POST', `${path}/enrolments`, JSON.stringify(rows))
              : await api('GET', `/people/${pct(ref)}`);
        await expectProblem('api', res);
      }),
      options,
    );
  }, 600_000);

  it('LTI launches with id_tokens re-signed after their claims changed, or tampered after signing', async () => {
    await fc.assert(
      fc.asyncProperty(claimMutation, headerMutation, fc.option(tamper), async (claims, header, damage) => {
        const browser = new Browser();
        const login = await browser.fetch(
          `${env.toolUrl}/lti/login?${new URLSearchParams({
            iss: env.emu.issuer,
            login_hint: 'fuzz',
            target_link_uri: `${env.toolUrl}/lti/launch`,
            client_id: env.emu.clientId,
          })}`,
        );
        expect(login.status).toBe(302);
        const auth = new URL(login.headers.get('location')!);
        const now = Math.floor(Date.now() / 1000);
        const payload: Record<string, unknown> = {
          ...resourceLaunch(env, { sub: 'fuzz-user' }),
          iss: env.emu.issuer,
          aud: env.emu.clientId,
          iat: now,
          exp: now + 300,
          nonce: auth.searchParams.get('nonce'),
        };
        for (const [k, v] of claims) {
          if (v === undefined) delete payload[k];
          else payload[k] = v;
        }
        const key = env.emu.keys[0];
        const h = { alg: 'RS256', kid: key.kid, typ: 'JWT', ...(header ?? {}) };
        let token = signCompact(h, payload, h.alg === 'none' ? 'none' : 'rs256', key, key);
        if (damage) {
          const parts = token.split('.');
          const p = parts[damage.part] ?? '';
          const at = p.length ? damage.at % p.length : 0;
          parts[damage.part] = p.slice(0, at) + damage.char + p.slice(at + 1);
          token = parts.join('.');
        }
        const res = await browser.fetch(`${env.toolUrl}/lti/launch`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ id_token: token, state: auth.searchParams.get('state') ?? '' }),
        });
        count('lti', res.status);
        const page = await res.text();
        expect(res.status, page.slice(0, 300)).toBeLessThan(500);
        if (res.status >= 400) expect(page).toMatch(/data-check="[^"]+"/);
      }),
      options,
    );
  }, 600_000);
});
