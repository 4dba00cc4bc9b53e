import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionPerson, resourceLaunch, ROLE, spec, startLtiEnv, type LtiEnv } from '../lti/helpers.js';
import { apiClient } from '../privileges/helpers.js';
import { backendName } from '../support/db.js';
import { runLaunch } from '../support/platform-emulator.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * person.realized: a person the school knew before they ever signed in (provisioned by the IdP, or
 * an admin's placeholder) signs in for the first time through an LTI launch from the emulated LMS.
 */
let env: LtiEnv;
let receiver: WebhookReceiver;
beforeAll(async () => {
  env = await startLtiEnv({}, {}, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', JOBS_POLL_INTERVAL_MS: '500' });
  receiver = await startWebhookReceiver();
  const created = await apiClient(env.server, env.adminToken).post('/webhooks/endpoints', {
    url: receiver.url,
    eventTypes: ['person.realized', 'person.provisioned'],
  });
  expect(created.status).toBe(201);
  receiver.secret = created.body.secret;
});
afterAll(async () => {
  await receiver?.close();
  await env?.close();
});

const launch = (sub: string, sourcedId: string) =>
  runLaunch(env.emu, spec(resourceLaunch(env, { sub, sourcedId, roles: [ROLE.learner], contextId: 'ctx-w1' })), {
    toolUrl: env.toolUrl,
  });

describe(`person.realized on ${backendName}`, () => {
  it('is sent, signed, at a waiting person’s first launch and never again', async () => {
    const p = await provisionPerson(env.store, env.tenant.id, { externalId: 'W-1', userName: 'w1@school.example' });
    await receiver.waitFor((r) => r.payload?.type === 'person.provisioned');
    expect((await launch('lms-w1', 'W-1')).launch!.status).toBe(303);
    const [realized] = await receiver.waitFor((r) => r.payload?.type === 'person.realized');
    expect(realized.verified).toBe(true);
    expect(realized.payload!.data).toMatchObject({
      previousStatus: 'provisioned',
      person: { id: p.id, externalId: 'W-1', status: 'active' },
    });
    expect(realized.payload!.data.firstLaunchAt).toBeTruthy();

    expect((await launch('lms-w1', 'W-1')).launch!.status).toBe(303); // returning: nothing new
    await new Promise((r) => setTimeout(r, 1200));
    expect(receiver.received.filter((r) => r.payload?.type === 'person.realized')).toHaveLength(1);
  });
});
