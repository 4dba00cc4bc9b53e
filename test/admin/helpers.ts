import { expect } from 'vitest';
import { LTI_CLAIM, runLaunch } from '../support/platform-emulator.js';
import { provisionPerson, resourceLaunch, ROLE, spec, type LtiEnv } from '../lti/helpers.js';

/** The Set-Cookie line of a cookie, or null. */
export function cookieOf(res: Response, name: string): string | null {
  for (const line of res.headers.getSetCookie()) if (line.startsWith(`${name}=`)) return line;
  return null;
}
export const cookieValue = (setCookie: string) => setCookie.split(';')[0];

/** Signs in to the school admin page with an admin token; the session cookie to send back. */
export async function adminPageCookie(env: LtiEnv, token = env.adminToken): Promise<string> {
  const res = await fetch(`${env.toolUrl}/app/admin/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    body: new URLSearchParams({ token }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const set = cookieOf(res, 'rb_admin');
  if (!set) throw new Error(`admin sign-in answered ${res.status} without a session`);
  return cookieValue(set);
}

/** Someone who launches from the LMS: their LMS `sub`, roles, and the SIS id SCIM provisioned them under. */
export interface Launcher {
  sub: string;
  roles: string[];
  sourcedId: string;
}

/** A launch from the LMS whose target is the school admin page rather than a course. */
export function launchAdminPage(env: LtiEnv, who: Launcher) {
  const adminPage = `${env.toolUrl}/app/admin`;
  const claims = resourceLaunch(env, { ...who, extra: { [`${LTI_CLAIM}target_link_uri`]: adminPage } });
  return runLaunch(env.emu, spec(claims), { toolUrl: env.toolUrl, targetLinkUri: adminPage });
}

/**
 * A teacher SCIM provisioned launches from the LMS twice: once as the LMS signs it (signed in, 303),
 * and once signed with a key the LMS never published (refused at the signature check, 400) — one
 * line of each kind for the launch log.
 */
export async function teacherLaunchesOkThenForged(
  env: LtiEnv,
  teacher: { externalId: string; userName: string; displayName: string; sub: string; contextId?: string },
) {
  const { sub, contextId, ...person } = teacher;
  await provisionPerson(env.store, env.tenant.id, person);
  const launch = resourceLaunch(env, { sub, roles: [ROLE.instructor], sourcedId: teacher.externalId, contextId });
  const ok = await runLaunch(env.emu, spec(launch), { toolUrl: env.toolUrl });
  expect(ok.launch!.status, 'the launch the LMS signed').toBe(303);
  const forged = await runLaunch(env.emu, spec(launch, { signing: 'foreign-key' }), { toolUrl: env.toolUrl });
  expect(forged.launch!.status, 'the launch signed with a foreign key').toBe(400);
}
