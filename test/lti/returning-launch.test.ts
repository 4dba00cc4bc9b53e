import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLaunch } from '../support/platform-emulator.js';
import { failedCheck, provisionPerson, resourceLaunch, ROLE, rows, spec, startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * Returning launches take the one-statement path (lti/fast-launch.ts); these cases pin down that
 * it behaves exactly like the general path: memberships and their audit, refusals, new courses.
 */
let env: LtiEnv;
beforeAll(async () => {
  env = await startLtiEnv();
});
afterAll(async () => {
  await env?.close();
});

const launchAs = (sub: string, sourcedId: string, roles: string[], contextId = 'ctx-r1') =>
  runLaunch(env.emu, spec(resourceLaunch(env, { sub, sourcedId, roles, contextId })), { toolUrl: env.toolUrl });

describe('a returning launch', () => {
  it('updates the membership roles when they change, audited with before and after, and leaves it alone otherwise', async () => {
    const p = await provisionPerson(env.store, env.tenant.id, { externalId: 'R-1' });
    expect((await launchAs('r-1', 'R-1', [ROLE.learner])).launch!.status).toBe(303);
    const [{ first_launch_at }] = await rows<{ first_launch_at: Date }>(
      env.store,
      `SELECT first_launch_at FROM people WHERE id = $1`,
      [p.id],
    );
    expect((await launchAs('r-1', 'R-1', [ROLE.learner])).launch!.status).toBe(303);
    const r = await launchAs('r-1', 'R-1', [ROLE.instructor]);
    expect(r.launch!.headers.get('location')).toMatch(/^\/app\/courses\//);
    const [m] = await rows<{ roles: string[]; course_id: string }>(
      env.store,
      `SELECT roles, course_id FROM course_memberships WHERE person_id = $1`,
      [p.id],
    );
    expect(m.roles).toEqual([ROLE.instructor]);
    const audit = await rows<{
      action: string;
      before: unknown;
      after: unknown;
      actor: string;
      request_id: string | null;
    }>(
      env.store,
      `SELECT action, before, after, actor, request_id FROM audit_events WHERE target_type = 'course_membership' AND target_id = $1 ORDER BY id`,
      [`${m.course_id}:${p.id}`],
    );
    expect(audit.map((a) => a.action)).toEqual(['course_membership.create', 'course_membership.update']);
    expect(audit[1]).toMatchObject({
      before: { roles: [ROLE.learner], status: 'active' },
      after: { roles: [ROLE.instructor], status: 'active' },
    });
    expect(audit[1].actor).toMatch(/^lti:/);
    expect(audit[1].request_id).toBeTruthy();
    const [again] = await rows<{ first_launch_at: Date }>(
      env.store,
      `SELECT first_launch_at FROM people WHERE id = $1`,
      [p.id],
    );
    expect(again.first_launch_at).toEqual(first_launch_at);
  });

  it('is refused once the person was suspended, and the state is used up', async () => {
    const p = await provisionPerson(env.store, env.tenant.id, { externalId: 'R-2' });
    expect((await launchAs('r-2', 'R-2', [ROLE.learner])).launch!.status).toBe(303);
    await env.store.sequelize.query(`UPDATE people SET status = 'suspended' WHERE id = $1`, { bind: [p.id] });
    const r = await launchAs('r-2', 'R-2', [ROLE.learner]);
    expect(r.launch!.status).toBe(403);
    expect(await failedCheck(r.launch!)).toBe('person_inactive');
    await env.store.sequelize.query(`UPDATE people SET status = 'active' WHERE id = $1`, { bind: [p.id] });
    expect(await failedCheck(await r.browser.submitForm(r.authPage!))).toBe('state');
  });

  it('creates the course when a known person launches from a new one', async () => {
    await provisionPerson(env.store, env.tenant.id, { externalId: 'R-3' });
    expect((await launchAs('r-3', 'R-3', [ROLE.learner], 'ctx-r3-a')).launch!.status).toBe(303);
    expect((await launchAs('r-3', 'R-3', [ROLE.learner], 'ctx-r3-b')).launch!.status).toBe(303);
    const courses = await rows<{ lti_context_id: string }>(
      env.store,
      `SELECT lti_context_id FROM courses WHERE lti_context_id LIKE 'ctx-r3-%' ORDER BY 1`,
    );
    expect(courses.map((c) => c.lti_context_id)).toEqual(['ctx-r3-a', 'ctx-r3-b']);
  });
});
