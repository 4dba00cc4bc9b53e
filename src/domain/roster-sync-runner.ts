import { ROSTER_SYNC_DEFAULTS } from '../config.js';
import type { Store } from '../db/store.js';
import type { RosterSyncTrigger } from './roster-sync-models.js';
import {
  dueScheduledCourses,
  lastRosterSyncAt,
  rememberRosterSource,
  startRosterSync,
  syncCourseRoster,
  type RosterSyncDeps,
} from './roster-sync.js';

/**
 * When roster syncs run: after an instructor's launch (in the background, debounced per course),
 * on demand (API, CLI) and on each tenant's schedule. Every path goes through `enqueue`, which
 * queues a roster_syncs row and hands `{ tenantId, courseId, syncId }` to `dispatch` — in process
 * by default (a small bounded pool). To run syncs on a job queue instead, pass a `dispatch` that
 * adds the job, and have the queue's task call `syncCourseRoster(store, deps, tenantId, courseId,
 * { syncId })`: that is the one place to change.
 */
/** The job queue's task for roster syncs. */
export const ROSTER_SYNC_TASK = 'roster.sync';

export interface RosterSyncJob {
  tenantId: string;
  courseId: string;
  syncId: string;
}

export interface RosterSyncLogger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

/** The operator's settings come from config.rosterSync; unset ones are ROSTER_SYNC_DEFAULTS. */
export interface RosterSyncRunnerOptions extends RosterSyncDeps {
  /** A launch starts a sync of its course at most this often (default 10 min). */
  launchDebounceMs?: number;
  /** Syncs running at once in this process (default 2). */
  concurrency?: number;
  /** How often the schedule is checked once started (default 1 min). */
  scheduleTickMs?: number;
  /** Replaces in-process running (a job queue). */
  dispatch?: (job: RosterSyncJob) => Promise<void>;
  logger?: RosterSyncLogger;
}

/** What a launch tells the runner: its course, and the NRPS claim as the platform sent it. */
export interface RosterLaunch {
  tenantId: string;
  platformId: string;
  courseId: string;
  /** The `…/lti-nrps/claim/namesroleservice` claim, unvalidated. */
  claim: unknown;
  /** Whether the launch was by course staff (an instructor): only theirs start a sync. */
  staff: boolean;
}

/** The NRPS claim's memberships URL when it is usable (http(s), service version 2.0), else null. */
export function nrpsClaimOf(claim: unknown): { membershipsUrl: string; serviceVersions: string[] } | null {
  if (!claim || typeof claim !== 'object') return null;
  const c = claim as { context_memberships_url?: unknown; service_versions?: unknown };
  if (typeof c.context_memberships_url !== 'string' || c.context_memberships_url.length > 2000) return null;
  const versions = Array.isArray(c.service_versions)
    ? c.service_versions.filter((v): v is string => typeof v === 'string')
    : [];
  if (!versions.includes('2.0')) return null;
  try {
    const url = new URL(c.context_memberships_url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  } catch {
    return null;
  }
  return { membershipsUrl: c.context_memberships_url, serviceVersions: versions };
}

export class RosterSyncRunner {
  private readonly running = new Set<Promise<void>>();
  private readonly waiting: RosterSyncJob[] = [];
  private active = 0;
  /** course id → memberships URL already remembered by this process (skips the write). */
  private readonly known = new Map<string, string>();
  /** course id → when this process last queued a launch sync for it. */
  private readonly launched = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: RosterSyncRunnerOptions,
  ) {}

  /** Queues a sync (or joins the open one) and starts it; resolves with its id once queued. */
  async enqueue(
    tenantId: string,
    courseId: string,
    trigger: RosterSyncTrigger,
    requestedBy: string,
  ): Promise<{ id: string; joined: boolean }> {
    const started = await startRosterSync(this.store, tenantId, courseId, trigger, requestedBy);
    if (!started.joined) this.dispatch({ tenantId, courseId, syncId: started.id });
    return started;
  }

  /**
   * Hands every later sync to a job queue (the server does this once its queue runs); the queue's
   * task calls `run`. Before that, and in processes without a queue, syncs run in this process.
   */
  useDispatch(dispatch: (job: RosterSyncJob) => Promise<void>): void {
    this.options.dispatch = dispatch;
  }

  /** Runs one queued sync here (the job queue's task). */
  run(job: RosterSyncJob) {
    return syncCourseRoster(this.store, this.options, job.tenantId, job.courseId, { syncId: job.syncId });
  }

  private dispatch(job: RosterSyncJob): void {
    if (this.options.dispatch) {
      this.track(this.options.dispatch(job));
      return;
    }
    this.waiting.push(job);
    this.pump();
  }

  private pump(): void {
    const limit = this.options.concurrency ?? ROSTER_SYNC_DEFAULTS.concurrency;
    while (this.active < limit && this.waiting.length) {
      const job = this.waiting.shift()!;
      this.active++;
      this.track(
        syncCourseRoster(this.store, this.options, job.tenantId, job.courseId, { syncId: job.syncId })
          .then((r) => {
            if (r.status === 'failed') this.options.logger?.warn({ sync: r.id, error: r.error }, 'roster sync failed');
          })
          .finally(() => {
            this.active--;
            this.pump();
          }),
      );
    }
  }

  private track(p: Promise<unknown>): void {
    const done: Promise<void> = p
      .then(() => undefined)
      .catch((err) => this.options.logger?.warn({ err }, 'roster sync job failed'))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /**
   * After a launch: remember the course's roster URL, and after a staff launch queue a sync unless
   * one was queued within the debounce window. Runs in the background; never throws, never delays
   * the launch.
   */
  afterLaunch(launch: RosterLaunch): void {
    const nrps = nrpsClaimOf(launch.claim);
    if (!nrps || this.stopped) return;
    if (!launch.staff && this.known.get(launch.courseId) === nrps.membershipsUrl) return;
    this.track(this.onLaunch(launch, nrps));
  }

  private async onLaunch(launch: RosterLaunch, nrps: { membershipsUrl: string; serviceVersions: string[] }) {
    const { tenantId, courseId } = launch;
    if (this.known.get(courseId) !== nrps.membershipsUrl) {
      await rememberRosterSource(this.store, { tenantId, courseId, platformId: launch.platformId, ...nrps });
      this.known.set(courseId, nrps.membershipsUrl);
    }
    if (!launch.staff) return;
    const debounce = this.options.launchDebounceMs ?? ROSTER_SYNC_DEFAULTS.launchDebounceMs;
    const now = Date.now();
    if (now - (this.launched.get(courseId) ?? 0) < debounce) return;
    this.launched.set(courseId, now);
    // Other processes serve launches too: the database knows when the course was last queued.
    const last = await lastRosterSyncAt(this.store, tenantId, courseId);
    if (last && now - last.getTime() < debounce) return;
    await this.enqueue(tenantId, courseId, 'launch', 'system:roster-sync (instructor launch)');
  }

  /** Queues every course whose tenant's schedule says it is due; returns how many were queued. */
  async runSchedule(): Promise<number> {
    let n = 0;
    for (const { tenantId, courseId } of await dueScheduledCourses(this.store)) {
      try {
        const r = await this.enqueue(tenantId, courseId, 'schedule', 'system:roster-sync (schedule)');
        if (!r.joined) n++;
      } catch (err) {
        this.options.logger?.warn({ err, tenantId, courseId }, 'scheduled roster sync not queued');
      }
    }
    return n;
  }

  /** Checks the schedule every scheduleTickMs until stop(). */
  startSchedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      this.track(this.runSchedule());
    }, this.options.scheduleTickMs ?? ROSTER_SYNC_DEFAULTS.scheduleTickMs);
    this.timer.unref();
  }

  /** Resolves once nothing is running or waiting in this process (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  /** Stops the schedule and launch syncs, and waits for syncs in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }
}
