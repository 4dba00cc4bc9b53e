import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FRAME_ORIGINS } from '../../src/domain/platforms.js';
import { adminPageCookie } from '../admin/helpers.js';
import { apiClient } from '../privileges/helpers.js';
import { backendName } from '../support/db.js';
import { LTI_CLAIM, runLaunch } from '../support/platform-emulator.js';
import { provisionPerson, ROLE, resourceLaunch, rows, spec, startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * Where the LMS shows the tool is not always its issuer: Canvas Cloud signs as
 * canvas.instructure.com and frames the tool from each school's own domain. The tool learns the
 * places a signed launch names (launch_presentation.return_url, tool_platform.url), and its pages
 * allow exactly those, with the registration's issuer and login endpoint, as frame ancestors.
 */
let env: LtiEnv;
const SCHOOL = 'https://school.lms.example';

beforeAll(async () => {
  env = await startLtiEnv();
  await provisionPerson(env.store, env.tenant.id, { externalId: 'T-1', displayName: 'Tina Teacher' });
}, 60_000);
afterAll(() => env?.close());

const launchFrom = (returnUrl: string, more: Record<string, unknown> = {}) =>
  runLaunch(
    env.emu,
    spec(
      resourceLaunch(env, {
        sub: 'lms-tina',
        roles: [ROLE.instructor],
        sourcedId: 'T-1',
        contextId: 'bio',
        extra: { [`${LTI_CLAIM}launch_presentation`]: { return_url: `${returnUrl}/courses/7/return` }, ...more },
      }),
    ),
    { toolUrl: env.toolUrl },
  );

/** A login initiation asking for the platform-storage flow (the login answers with a page). */
const storageLogin = (more: Record<string, string> = {}) =>
  fetch(
    `${env.toolUrl}/lti/login?${new URLSearchParams({
      iss: env.emu.issuer,
      login_hint: 'x',
      target_link_uri: `${env.toolUrl}/lti/launch`,
      client_id: env.emu.clientId,
      lti_storage_target: 'post_message_forwarding',
      ...more,
    })}`,
  );

const frameAncestors = (res: Response) =>
  /frame-ancestors ([^;]*)/.exec(res.headers.get('content-security-policy') ?? '')?.[1] ?? '';

const platform = async () =>
  (await apiClient(env.server, env.adminToken).get('/lti/platforms')).body.platforms[0] as { frameOrigins: string[] };

const audited = async () =>
  (
    await rows<{ n: number }>(
      env.store,
      `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = 'lti.platform.frame_origin'`,
      [env.tenant.id],
    )
  )[0].n;

describe(`frame ancestors learned from signed launches (${backendName})`, () => {
  it("lets the school's own LMS domain frame the course page once a launch from there named it", async () => {
    const first = await launchFrom(SCHOOL);
    expect(first.launch!.status).toBe(303);
    expect((await platform()).frameOrigins).toEqual([SCHOOL]);
    expect(await audited()).toBe(1);

    const page = await fetch(`${env.toolUrl}${first.launch!.headers.get('location')!.split('#')[0]}`, {
      headers: { cookie: `rb_session=${first.browser.cookies.get('rb_session')}` },
    });
    expect(page.status).toBe(200);
    expect(frameAncestors(page).split(' ')).toEqual(
      expect.arrayContaining(["'self'", new URL(env.emu.issuer).origin, SCHOOL]),
    );
    expect(frameAncestors(page)).not.toContain('*');
  });

  it("shows the school's IT admin where the LMS shows the tool, and lets that place frame the admin page", async () => {
    const page = await fetch(`${env.toolUrl}/app/admin`, { headers: { cookie: await adminPageCookie(env) } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<td class="shown-from">school.lms.example</td>');
    expect(frameAncestors(page).split(' ')).toContain(SCHOOL);
  });

  it('writes nothing when a launch comes from a place it already knows', async () => {
    const again = await launchFrom(SCHOOL);
    expect(again.launch!.status).toBe(303);
    expect((await platform()).frameOrigins).toEqual([SCHOOL]);
    expect(await audited()).toBe(1);
  });

  it("frames the storage flow's login page only by the platform holding the named deployment", async () => {
    const login = await storageLogin({ lti_deployment_id: env.deploymentId });
    expect(login.status).toBe(200);
    expect(frameAncestors(login).split(' ')).toEqual(expect.arrayContaining([SCHOOL, new URL(env.emu.issuer).origin]));
    // Without a deployment the client id may serve several schools: their places are not listed.
    const anonymous = await storageLogin();
    expect(frameAncestors(anonymous)).toBe('*');
  });

  it('keeps at most a bounded number of places, and ignores what is not an http(s) origin', async () => {
    await launchFrom('javascript:alert(1)//', { [`${LTI_CLAIM}tool_platform`]: { url: 'ftp://files.example' } });
    expect((await platform()).frameOrigins).toEqual([SCHOOL]);
    for (let i = 0; i < MAX_FRAME_ORIGINS + 3; i++) await launchFrom(`https://campus${i}.lms.example`);
    const learned = (await platform()).frameOrigins;
    expect(learned).toHaveLength(MAX_FRAME_ORIGINS);
    expect(learned[0]).toBe(SCHOOL);
  }, 60_000);

  it("lets the school's admin forget a place, until a signed launch names it again", async () => {
    const api = apiClient(env.server, env.adminToken);
    const { id } = (await api.get('/lti/platforms')).body.platforms[0];
    const path = (origin: string) => `/lti/platforms/${id}/frame-origins?${new URLSearchParams({ origin })}`;
    const forgot = await api.del(path(SCHOOL));
    expect(forgot.status).toBe(200);
    expect(forgot.body.frameOrigins).not.toContain(SCHOOL);
    expect((await api.del(path(SCHOOL))).status).toBe(404);
    const [audit] = await rows<{ actor: string }>(
      env.store,
      `SELECT actor FROM audit_events WHERE tenant_id = $1 AND action = 'lti.platform.frame_origin_forget'`,
      [env.tenant.id],
    );
    expect(audit.actor).toMatch(/^token:/);
    await launchFrom(SCHOOL);
    expect((await platform()).frameOrigins).toContain(SCHOOL);
  }, 30_000);
});
