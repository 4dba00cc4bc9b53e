import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/domain/tokens.js';
import { deleteTenant } from '../../src/domain/tenants.js';
import { restoreTenant } from '../../src/domain/tenant-lifecycle.js';
import { failedCheck, resourceLaunch, spec, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { runLaunch } from '../support/platform-emulator.js';

/** A soft-deleted school: SCIM and LTI get a clear error, not a 500 and not another school; restore undoes it. */
let env: LtiEnv;
let scimToken: string;
beforeAll(async () => {
  env = await startLtiEnv({ jitCreate: true });
  scimToken = (await createToken(env.store, { actor: 'test' }, { tenantId: env.tenant.id, kind: 'scim' })).token;
}, 120_000);
afterAll(async () => env?.close());

const scimUsers = () => fetch(`${env.toolUrl}/scim/v2/Users`, { headers: { authorization: `Bearer ${scimToken}` } });
const launch = () =>
  runLaunch(env.emu, spec(resourceLaunch(env, { sub: 'after-delete', email: 'x@school.example' })), {
    toolUrl: env.toolUrl,
  });

describe('a soft-deleted school', () => {
  it('answers SCIM and LTI with a clear error, and works again once restored', async () => {
    expect((await scimUsers()).status).toBe(200);
    await deleteTenant(env.store, { actor: 'test' }, env.tenant.slug);

    const scim = await scimUsers();
    expect(scim.status).toBe(401);
    expect(await scim.json()).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      detail: expect.stringMatching(/deleted|revoked|unknown/i),
    });
    const lti = await launch();
    const answer = lti.launch ?? lti.login;
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(await failedCheck(answer)).toBeTruthy();

    await restoreTenant(env.store, { actor: 'test' }, env.tenant.id);
    expect((await scimUsers()).status).toBe(200);
    expect((await launch()).launch?.status).toBe(303);
  });
});
