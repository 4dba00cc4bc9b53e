import { describe, expect, it } from 'vitest';
import { setRosterSchedule } from '../../src/domain/roster-sync.js';
import { nrpsClaimOf, RosterSyncRunner, type RosterSyncJob } from '../../src/domain/roster-sync-runner.js';
import { backendName } from '../support/db.js';
import { member } from '../support/nrps-platform.js';
import { courseOfNewSchool, courseWithRoster, rows, schoolWithPlatform, setUpNrpsEnv, syncDeps } from './helpers.js';

/**
 * The in-process runner: every trigger goes through enqueue (one roster_syncs row per sync, an open
 * one joined), `dispatch` is the one place a job queue plugs in, launches are debounced, and the
 * tenant schedule queues the courses that are due.
 */
const env = setUpNrpsEnv();

let n = 0;
async function course() {
  const c = await courseOfNewSchool(env, `run-${++n}`);
  env.nrps.setRoster(c.contextId, [member(`${c.contextId}-a`), member(`${c.contextId}-b`)]);
  return c;
}
const statusOf = async (id: string) =>
  (
    await rows<{ status: string; trigger: string }>(
      env.store,
      `SELECT status, trigger FROM roster_syncs WHERE id = $1`,
      [id],
    )
  )[0];

describe(`the roster sync runner (${backendName})`, () => {
  it('runs an enqueued sync in the background and joins a second request to it', async () => {
    const c = await course();
    const runner = new RosterSyncRunner(env.store, syncDeps(env.store));
    const a = await runner.enqueue(c.tenantId, c.courseId, 'api', 'test');
    const b = await runner.enqueue(c.tenantId, c.courseId, 'api', 'test');
    expect(b).toEqual({ id: a.id, joined: true });
    await runner.idle();
    expect(await statusOf(a.id)).toEqual({ status: 'succeeded', trigger: 'api' });
  });

  it('hands jobs to a replacement dispatch (a job queue) instead of running them', async () => {
    const c = await course();
    const jobs: RosterSyncJob[] = [];
    const runner = new RosterSyncRunner(env.store, {
      ...syncDeps(env.store),
      dispatch: async (j) => void jobs.push(j),
    });
    const { id } = await runner.enqueue(c.tenantId, c.courseId, 'cli', 'test');
    await runner.idle();
    expect(jobs).toEqual([{ tenantId: c.tenantId, courseId: c.courseId, syncId: id }]);
    expect((await statusOf(id)).status).toBe('queued');
  });

  it('after a staff launch: remembers the URL and syncs, once per debounce window', async () => {
    const { tenant, platform } = await schoolWithPlatform(env.store, env.nrps);
    const c = await course();
    const courseId = await courseWithRoster(env.store, tenant.id, platform.id, 'launch-ctx', env.nrps);
    await env.store.models.CourseRosterSource.destroy({ where: { courseId } });
    env.nrps.setRoster('launch-ctx', [member('x')]);
    const runner = new RosterSyncRunner(env.store, { ...syncDeps(env.store), launchDebounceMs: 60_000 });
    const launch = { tenantId: tenant.id, platformId: platform.id, courseId, claim: env.nrps.claim('launch-ctx') };
    runner.afterLaunch({ ...launch, staff: true });
    runner.afterLaunch({ ...launch, staff: true });
    await runner.idle();
    runner.afterLaunch({ ...launch, staff: true });
    await runner.idle();
    const syncs = await rows<{ status: string }>(env.store, `SELECT status FROM roster_syncs WHERE course_id = $1`, [
      courseId,
    ]);
    expect(syncs).toEqual([{ status: 'succeeded' }]);
    // A claim without service version 2.0, or with a URL that is not http(s), is not a roster.
    expect(nrpsClaimOf({ context_memberships_url: 'https://lms.example/m', service_versions: ['1.0'] })).toBeNull();
    expect(nrpsClaimOf({ context_memberships_url: 'javascript:alert(1)', service_versions: ['2.0'] })).toBeNull();
    expect(nrpsClaimOf(c)).toBeNull();
  });

  it('queues the courses of tenants with a schedule once they are due, and no others', async () => {
    const scheduled = await course();
    const unscheduled = await course();
    await setRosterSchedule(env.store, { actor: 'test' }, scheduled.tenantId, 60);
    const runner = new RosterSyncRunner(env.store, syncDeps(env.store));
    await runner.runSchedule();
    await runner.idle();
    const synced = async (courseId: string) =>
      rows<{ trigger: string; status: string }>(
        env.store,
        `SELECT trigger, status FROM roster_syncs WHERE course_id = $1`,
        [courseId],
      );
    expect(await synced(scheduled.courseId)).toEqual([{ trigger: 'schedule', status: 'succeeded' }]);
    expect(await synced(unscheduled.courseId)).toEqual([]);
    // Just synced: not due again within the hour.
    await runner.runSchedule();
    await runner.idle();
    expect(await synced(scheduled.courseId)).toHaveLength(1);
    await expect(setRosterSchedule(env.store, { actor: 'test' }, scheduled.tenantId, 5)).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  it('fails a sync its worker abandoned, so the course can be synced again', async () => {
    const c = await course();
    const runner = new RosterSyncRunner(env.store, { ...syncDeps(env.store), dispatch: async () => {} });
    const { id } = await runner.enqueue(c.tenantId, c.courseId, 'api', 'test');
    await env.store.sequelize.query(
      `UPDATE roster_syncs SET status = 'running', started_at = now() - interval '1 hour' WHERE id = $1`,
      { bind: [id] },
    );
    const again = await runner.enqueue(c.tenantId, c.courseId, 'api', 'test');
    expect(again.joined).toBe(false);
    const [old] = await rows<{ status: string; error: string }>(
      env.store,
      `SELECT status, error FROM roster_syncs WHERE id = $1`,
      [id],
    );
    expect(old).toEqual({ status: 'failed', error: expect.stringMatching(/abandoned/) });
  });
});
