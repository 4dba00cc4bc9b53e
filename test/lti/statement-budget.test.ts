import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, runLaunch } from '../support/platform-emulator.js';
import { ROLE, resourceLaunch, spec, startLtiEnv, type LtiEnv } from './helpers.js';

/**
 * The launch path's database budget (issue #13, docs/decisions/0008): every statement the tool
 * sends to the database during one login and one returning launch is counted at the pg client,
 * so a change that adds a round trip to the hot path fails here, not only in the benchmark.
 */
const sent: string[] = [];
const original = pg.Client.prototype.query;

function counting<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  sent.length = 0;
  return fn().then((result) => ({ result, statements: [...sent] }));
}

describe('statements per login and per launch', () => {
  let env: LtiEnv;
  beforeAll(async () => {
    env = await startLtiEnv({ jitCreate: true });
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const q = args[0] as string | { text?: string };
      const sql = typeof q === 'string' ? q : (q?.text ?? '?');
      // Not the launch's: the tool keys' cache reload (every 30 s), the login's sweep (every minute),
      // the launch log written behind the request in batches, and the job queue's polling.
      if (!/tool_keys|^DELETE FROM "?lti_|launch_log|pgboss|webhook_/.test(sql)) sent.push(sql);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
  });
  afterAll(async () => {
    pg.Client.prototype.query = original;
    await env?.close();
  });

  async function launchOnce(browser = new Browser()) {
    const payload = resourceLaunch(env, { sub: 'budget-user', roles: [ROLE.instructor], contextId: 'ctx-budget' });
    const hint = `hint-${Math.random()}`;
    env.emu.prepare(hint, spec(payload));
    const params = new URLSearchParams({
      iss: env.emu.issuer,
      login_hint: hint,
      target_link_uri: `${env.toolUrl}/lti/launch`,
      client_id: env.emu.clientId,
    });
    const login = await counting(() => browser.fetch(`${env.toolUrl}/lti/login?${params}`));
    expect(login.result.status).toBe(302);
    const authPage = await (await browser.fetch(login.result.headers.get('location')!)).text();
    const launch = await counting(() => browser.submitForm(authPage));
    expect(launch.result.status).toBe(303);
    return { login: login.statements, launch: launch.statements };
  }

  it('a login sends no statement and a returning launch one, counted at the pg client (BEGIN/COMMIT included)', async () => {
    // First launch (JIT person, new course, membership) and a warm-up of the caches.
    const first = await runLaunch(
      env.emu,
      spec(resourceLaunch(env, { sub: 'budget-user', roles: [ROLE.instructor], contextId: 'ctx-budget' })),
      {
        toolUrl: env.toolUrl,
      },
    );
    expect(first.launch?.status).toBe(303);
    await launchOnce();
    const { login, launch } = await launchOnce();
    console.log(`statements per login: ${login.length}\n  ${login.join('\n  ')}`);
    console.log(`statements per launch: ${launch.length}\n  ${launch.join('\n  ')}`);
    expect(login).toEqual([]);
    expect(launch).toHaveLength(1);
    expect(launch[0]).toMatch(/INSERT INTO lti_nonces/);
  });
});
