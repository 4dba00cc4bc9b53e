import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLaunch } from '../support/platform-emulator.js';
import { CERT_DIR as DIR, certSpec, EXPECTED_CHECK, loadCertCases } from './certification-cases.js';
import { startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * The 1EdTech LTI Advantage certification launch payloads (../shared/conformance/lti-certification,
 * read in place; see its NOTICE.md): each is re-signed by the emulated platform with a fresh
 * iat/exp, the nonce the tool issued and the tool's own target_link_uri, then replayed through
 * login → auth → launch. Every valid case must be accepted, every invalid one rejected with a 4xx.
 */
const present = existsSync(DIR);
if (!present) console.warn(`LTI certification payloads not found at ${DIR}: skipping the certification replay`);

const ISSUER = 'https://ltiadvantagevalidator.imsglobal.org';
const CLIENT_ID = 'imstester_3dfad6d';

describe.skipIf(!present)('1EdTech LTI 1.3 certification payloads', () => {
  let env: LtiEnv;
  const results: Record<string, { status: number }> = {};
  beforeAll(async () => {
    // JIT on: the suite's users are not provisioned here, and "accepted" means the launch validated.
    env = await startLtiEnv({ jitCreate: true }, { issuer: ISSUER, clientId: CLIENT_ID });
    // The suite's deployment, registered for this tenant next to the default one.
    const { addDeployment } = await import('../../src/domain/platforms.js');
    await addDeployment(env.store, { actor: 'test' }, env.tenant.id, {
      issuer: ISSUER,
      clientId: CLIENT_ID,
      deploymentId: 'testdeploy',
    });
  });
  afterAll(async () => {
    const valid = Object.entries(results).filter(([k]) => k.startsWith('valid/'));
    const invalid = Object.entries(results).filter(([k]) => k.startsWith('invalid/'));
    console.info(
      `certification: valid accepted ${valid.filter(([, r]) => r.status < 400).length}/${valid.length}, ` +
        `invalid rejected ${invalid.filter(([, r]) => r.status >= 400 && r.status < 500).length}/${invalid.length}`,
    );
    await env?.close();
  });

  const cases = present ? loadCertCases() : [];
  it('has the published cases', () => {
    expect(cases.filter((c) => c.kind === 'valid').length).toBeGreaterThanOrEqual(20);
    expect(cases.filter((c) => c.kind === 'invalid').length).toBeGreaterThanOrEqual(13);
  });

  for (const c of cases) {
    it(`${c.kind}: ${c.name}`, async () => {
      const r = await runLaunch(env.emu, certSpec(c, env.toolUrl), { toolUrl: env.toolUrl });
      const res = r.launch ?? r.auth ?? r.login;
      results[`${c.kind}/${c.name}`] = { status: res.status };
      if (c.kind === 'valid') {
        expect([200, 303], await res.clone().text()).toContain(res.status);
      } else {
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        const check = /data-check="([a-z_]+)"/.exec(await res.text())?.[1];
        expect(check).toBe(EXPECTED_CHECK[c.name]);
      }
    });
  }
});
