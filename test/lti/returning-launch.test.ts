import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onAuthzChange } from '../../src/domain/change-signal.js';
import { runLaunch } from '../support/platform-emulator.js';
import { failedCheck, provisionPerson, resourceLaunch, ROLE, rows, spec, startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * Returning launches that change nothing take the one-statement path (src/domain/launch-returning.ts);
 * everything else takes the general path. These cases pin down that a returning launch behaves
 * exactly like the general path: memberships and their audit, refusals, new courses, and what it
 * costs and signals.
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

  it('takes one statement for login and launch together, and starts no transaction, when nothing changed', async () => {
    await provisionPerson(env.store, env.tenant.id, { externalId: 'R-4' });
    expect((await launchAs('r-4', 'R-4', [ROLE.learner], 'ctx-r4')).launch!.status).toBe(303);
    const statements: string[] = [];
    env.store.sequelize.addHook('afterQuery', 'count-r4', (_options, query) => {
      const sql = (query as unknown as { sql?: string }).sql ?? '';
      // The login's opportunistic sweep of expired states runs at most once a minute, and the tool
      // keys' cache reloads every 30 s, the launch log is written behind the request in batches and
      // the job queue polls: none is the launch's.
      if (!/^DELETE FROM lti_|tool_keys|launch_log|pgboss|webhook_/.test(sql)) statements.push(sql);
    });
    try {
      expect((await launchAs('r-4', 'R-4', [ROLE.learner], 'ctx-r4')).launch!.status).toBe(303);
    } finally {
      env.store.sequelize.removeHook('afterQuery', 'count-r4');
    }
    // login: nothing (the state is signed, not stored); launch: the returning launch itself, which
    // burns the state by recording its nonce (docs/decisions/0008).
    expect(statements, statements.join('\n')).toHaveLength(1);
    expect(statements[0]).toMatch(/INSERT INTO lti_nonces[\s\S]*UPDATE identity_links/);
    expect(statements.some((q) => /START TRANSACTION|BEGIN/.test(q))).toBe(false);
  });

  it("signals its tenant's change after a write, and signals nothing when the launch changed nothing", async () => {
    await provisionPerson(env.store, env.tenant.id, { externalId: 'R-5' });
    const signalled: (string | null)[] = [];
    const stop = onAuthzChange((tenantId) => signalled.push(tenantId));
    try {
      const during = async (roles: string[]) => {
        signalled.length = 0;
        expect((await launchAs('r-5', 'R-5', roles, 'ctx-r5')).launch!.status).toBe(303);
        return [...signalled];
      };
      const first = await during([ROLE.learner]);
      expect(first.length).toBeGreaterThan(0);
      expect(new Set(first)).toEqual(new Set([env.tenant.id]));
      expect(await during([ROLE.learner])).toEqual([]);
      const changed = await during([ROLE.instructor]);
      expect(changed.length).toBeGreaterThan(0);
      expect(new Set(changed)).toEqual(new Set([env.tenant.id]));
    } finally {
      stop();
    }
  });
});
