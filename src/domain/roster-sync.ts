import { Op } from 'sequelize';
import { ROSTER_SYNC_DEFAULTS } from '../config.js';
import { inTransaction, isUniqueViolation, type ActorContext, type Store } from '../db/store.js';
import { AppError, ConflictError, NotFoundError, UpstreamError, ValidationError } from '../errors.js';
import { recordAudit } from './audit.js';
import { emitRosterSynced } from './events.js';
import { applyRoster, type RosterMember } from './roster-sync-apply.js';
import type {
  RosterProblem,
  RosterSync,
  RosterSyncMode,
  RosterSyncStatus,
  RosterSyncTrigger,
} from './roster-sync-models.js';

/**
 * A course's roster from its LMS (LTI NRPS 2.0), applied whole or not at all:
 *   1. the sync is a roster_syncs row: queued (startRosterSync), claimed by one worker (running);
 *   2. every page is fetched first, through deps.fetchRoster (lti/nrps.ts: token, paging, retries
 *      with backoff) — a fault there fails the sync and nothing is written;
 *   3. one transaction applies the roster (roster-sync-apply.ts), remembers the differences URL,
 *      records the counts on the row and audits `roster.sync`.
 * A failed sync keeps its error on the row and audits `roster.sync_failed`.
 *
 * `syncCourseRoster(store, deps, tenantId, courseId, { syncId })` is the job: whatever runs jobs
 * (RosterSyncRunner in-process today, a PostgreSQL job queue later) calls it with the id
 * startRosterSync returned.
 */

/** What the fetcher needs to read one course's roster. */
export interface RosterFetchRequest {
  tenantId: string;
  courseId: string;
  platform: { id: string; issuer: string; clientId: string; authTokenUrl: string };
  /** The context_memberships_url the launch gave. */
  membershipsUrl: string;
  /** Set when the platform's differences link should be read instead of the full roster. */
  differencesUrl: string | null;
}

export interface RosterSnapshot {
  mode: RosterSyncMode;
  members: RosterMember[];
  /** The rel="differences" link the platform gave with this roster, if any. */
  differencesUrl: string | null;
  /** HTTP attempts it took (retries included). */
  attempts: number;
}

/** Reads every page of a roster; throws RosterFetchError once its retries are spent. */
export type RosterFetcher = (req: RosterFetchRequest) => Promise<RosterSnapshot>;

export type RosterFetchFault =
  | 'token_refused'
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'network'
  | 'malformed'
  | 'refused'
  | 'too_large';

/** The platform's roster could not be read, after the retries the fetcher makes. */
export class RosterFetchError extends UpstreamError {
  constructor(
    readonly fault: RosterFetchFault,
    message: string,
    readonly attempts: number,
    options: { cause?: unknown } = {},
  ) {
    super(message, { ...options, details: { fault, attempts } });
  }
}

export interface RosterSyncDeps {
  fetchRoster: RosterFetcher;
  /** A full read at least this often even when a differences URL is known (default 24 h). */
  fullSyncEveryMs?: number;
}

export interface RosterSyncView {
  id: string;
  courseId: string;
  trigger: RosterSyncTrigger;
  requestedBy: string;
  status: RosterSyncStatus;
  mode: RosterSyncMode | null;
  attempts: number;
  counts: { members: number; added: number; updated: number; ended: number; unchanged: number; errors: number };
  problems: RosterProblem[];
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const MAX_PROBLEMS_KEPT = 100;
/** A sync `running` this long was abandoned by its worker (a crash, a restart); also its job's lease (server.ts). */
export const ABANDONED_AFTER_MS = 15 * 60 * 1000;

export function viewRosterSync(r: RosterSync | ReturnType<RosterSync['get']>): RosterSyncView {
  const s = r as RosterSync;
  const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);
  return {
    id: s.id,
    courseId: s.courseId,
    trigger: s.trigger,
    requestedBy: s.requestedBy,
    status: s.status,
    mode: s.mode ?? null,
    attempts: s.attempts,
    counts: {
      members: s.members,
      added: s.added,
      updated: s.updated,
      ended: s.ended,
      unchanged: s.unchanged,
      errors: s.errors,
    },
    problems: s.problems ?? [],
    error: s.error ?? null,
    createdAt: new Date(s.createdAt).toISOString(),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
  };
}

/** The course's roster source, or NotFound/Conflict in domain words. */
async function sourceOf(store: Store, tenantId: string, courseId: string) {
  const { Course, CourseRosterSource, LtiPlatform } = store.models;
  const course = await Course.findOne({ where: { tenantId, id: courseId, deletedAt: null }, raw: true });
  if (!course) throw new NotFoundError('No such course in this tenant');
  const source = await CourseRosterSource.findOne({ where: { tenantId, courseId }, raw: true });
  if (!source)
    throw new ConflictError(
      'This course has no LMS roster yet: it is learned from the first launch of the course that carries the Names and Roles claim',
    );
  const platform = await LtiPlatform.findOne({
    where: { tenantId, id: source.platformId, deletedAt: null },
    raw: true,
  });
  if (!platform) throw new ConflictError("The LMS platform this course's roster came from is no longer registered");
  return { course, source, platform };
}

/**
 * Queues a sync of the course, or joins the one already queued or running (at most one at a time).
 * A sync left `running` by a worker that died is failed first, so a new one can start.
 */
export async function startRosterSync(
  store: Store,
  tenantId: string,
  courseId: string,
  trigger: RosterSyncTrigger,
  requestedBy: string,
): Promise<{ id: string; joined: boolean }> {
  await sourceOf(store, tenantId, courseId);
  const { RosterSync } = store.models;
  await RosterSync.update(
    {
      status: 'failed',
      error: 'abandoned: the worker running this sync stopped',
      finishedAt: store.sequelize.fn('now'),
    },
    {
      where: {
        tenantId,
        courseId,
        status: 'running',
        startedAt: { [Op.lt]: new Date(Date.now() - ABANDONED_AFTER_MS) },
      },
    },
  );
  for (let i = 0; i < 3; i++) {
    const open = await RosterSync.findOne({
      where: { tenantId, courseId, status: ['queued', 'running'] },
      attributes: ['id'],
      raw: true,
    });
    if (open) return { id: open.id, joined: true };
    try {
      const row = await RosterSync.create({ tenantId, courseId, trigger, requestedBy, status: 'queued' });
      return { id: row.id, joined: false };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err; // another request queued one first: join it
    }
  }
  throw new ConflictError('A roster sync of this course is being queued; try again');
}

export async function getRosterSync(
  store: Store,
  tenantId: string,
  courseId: string,
  syncId: string,
): Promise<RosterSyncView> {
  const row = await store.models.RosterSync.findOne({ where: { tenantId, courseId, id: syncId } });
  if (!row) throw new NotFoundError('No such roster sync for this course');
  return viewRosterSync(row);
}

export async function listRosterSyncs(
  store: Store,
  tenantId: string,
  courseId: string,
  limit = 20,
): Promise<RosterSyncView[]> {
  const rows = await store.models.RosterSync.findAll({
    where: { tenantId, courseId },
    order: [['createdAt', 'DESC']],
    limit,
  });
  return rows.map(viewRosterSync);
}

const errorText = (err: unknown): string =>
  err instanceof AppError || err instanceof Error ? err.message : String(err);

/**
 * Runs one sync (the job). With `syncId`, that queued sync; without, one is queued first (or the
 * open one joined). Returns the sync as it ended; a sync another worker already claimed is
 * returned as it stands, not run twice. Never throws for a platform fault: that is the result.
 */
export async function syncCourseRoster(
  store: Store,
  deps: RosterSyncDeps,
  tenantId: string,
  courseId: string,
  options: { syncId?: string; trigger?: RosterSyncTrigger; actor?: ActorContext } = {},
): Promise<RosterSyncView> {
  const actor = options.actor ?? { actor: 'system:roster-sync' };
  const syncId =
    options.syncId ?? (await startRosterSync(store, tenantId, courseId, options.trigger ?? 'cli', actor.actor)).id;
  const { RosterSync, CourseRosterSource } = store.models;
  const [claimed] = await RosterSync.update(
    { status: 'running', startedAt: store.sequelize.fn('now') },
    { where: { tenantId, courseId, id: syncId, status: 'queued' } },
  );
  if (claimed === 0) return getRosterSync(store, tenantId, courseId, syncId);

  let attempts = 0;
  try {
    const { source, platform } = await sourceOf(store, tenantId, courseId);
    const fullEvery = deps.fullSyncEveryMs ?? ROSTER_SYNC_DEFAULTS.fullSyncEveryMs;
    const differencesFresh =
      source.differencesUrl !== null &&
      source.lastFullSyncAt !== null &&
      Date.now() - new Date(source.lastFullSyncAt).getTime() < fullEvery;
    const request: RosterFetchRequest = {
      tenantId,
      courseId,
      platform: {
        id: platform.id,
        issuer: platform.issuer,
        clientId: platform.clientId,
        authTokenUrl: platform.authTokenUrl,
      },
      membershipsUrl: source.membershipsUrl,
      differencesUrl: differencesFresh ? source.differencesUrl : null,
    };
    let snapshot: RosterSnapshot;
    try {
      snapshot = await deps.fetchRoster(request);
    } catch (err) {
      // A differences link the platform no longer honours: read the whole roster instead.
      if (!request.differencesUrl) throw err;
      attempts += err instanceof RosterFetchError ? err.attempts : 1;
      snapshot = await deps.fetchRoster({ ...request, differencesUrl: null });
    }
    attempts += snapshot.attempts;

    return await inTransaction(store, async (t) => {
      // One sync of a course applies at a time, whichever process runs it.
      await CourseRosterSource.findOne({ where: { tenantId, courseId }, lock: t.LOCK.UPDATE, transaction: t });
      const r = await applyRoster(store, t, actor, {
        tenantId,
        courseId,
        platform: { id: platform.id, trustEmail: platform.trustEmail, identityClaim: platform.identityClaim },
        mode: snapshot.mode,
        members: snapshot.members,
      });
      const now = store.sequelize.fn('now');
      await CourseRosterSource.update(
        {
          differencesUrl: snapshot.differencesUrl ?? (snapshot.mode === 'differences' ? source.differencesUrl : null),
          lastSyncAt: now,
          ...(snapshot.mode === 'full' ? { lastFullSyncAt: now } : {}),
          updatedAt: now,
        },
        { where: { tenantId, courseId }, transaction: t },
      );
      const counts = {
        members: r.members,
        added: r.added,
        updated: r.updated,
        ended: r.ended,
        unchanged: r.unchanged,
        errors: r.problems.length,
      };
      const [, [row]] = await RosterSync.update(
        {
          status: 'succeeded',
          mode: snapshot.mode,
          attempts,
          ...counts,
          problems: r.problems.slice(0, MAX_PROBLEMS_KEPT),
          finishedAt: now,
        },
        { where: { tenantId, id: syncId }, returning: true, transaction: t },
      );
      await recordAudit(store, t, actor, {
        tenantId,
        action: 'roster.sync',
        targetType: 'course',
        targetId: courseId,
        after: {
          syncId,
          mode: snapshot.mode,
          ...counts,
          peopleCreated: r.peopleCreated,
          peopleLinked: r.peopleLinked,
          problems: r.problems.slice(0, 20),
        },
      });
      await emitRosterSynced(store, t, tenantId, {
        source: 'nrps',
        courseId,
        added: counts.added,
        updated: counts.updated,
        ended: counts.ended,
        errors: counts.errors,
      });
      return viewRosterSync(row);
    });
  } catch (err) {
    if (err instanceof RosterFetchError) attempts += err.attempts;
    const message = errorText(err);
    await inTransaction(store, async (t) => {
      await RosterSync.update(
        { status: 'failed', attempts, error: message.slice(0, 2000), finishedAt: store.sequelize.fn('now') },
        { where: { tenantId, id: syncId }, transaction: t },
      );
      await recordAudit(store, t, actor, {
        tenantId,
        action: 'roster.sync_failed',
        targetType: 'course',
        targetId: courseId,
        after: { syncId, error: message, fault: err instanceof RosterFetchError ? err.fault : 'internal' },
      });
    });
    return getRosterSync(store, tenantId, courseId, syncId);
  }
}

/**
 * Remembers where a course's roster is (the NRPS claim of a launch). Writes only when the URL or
 * versions changed; a new URL forgets the old differences link. Returns whether it wrote.
 */
export async function rememberRosterSource(
  store: Store,
  input: { tenantId: string; courseId: string; platformId: string; membershipsUrl: string; serviceVersions: string[] },
): Promise<boolean> {
  const { CourseRosterSource } = store.models;
  const where = { tenantId: input.tenantId, courseId: input.courseId };
  const existing = await CourseRosterSource.findOne({ where, raw: true });
  if (
    existing &&
    existing.membershipsUrl === input.membershipsUrl &&
    existing.platformId === input.platformId &&
    existing.serviceVersions.join(' ') === input.serviceVersions.join(' ')
  )
    return false;
  if (!existing) {
    try {
      await CourseRosterSource.create({ ...input });
      return true;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err; // a concurrent launch remembered it first
    }
  }
  await CourseRosterSource.update(
    {
      platformId: input.platformId,
      membershipsUrl: input.membershipsUrl,
      serviceVersions: input.serviceVersions,
      ...(existing && existing.membershipsUrl !== input.membershipsUrl ? { differencesUrl: null } : {}),
      updatedAt: store.sequelize.fn('now'),
    },
    { where },
  );
  return true;
}

/** When the course's last sync was queued, or null: the launch debounce reads it. */
export async function lastRosterSyncAt(store: Store, tenantId: string, courseId: string): Promise<Date | null> {
  const last = await store.models.RosterSync.findOne({
    where: { tenantId, courseId },
    attributes: ['createdAt'],
    order: [['createdAt', 'DESC']],
    raw: true,
  });
  return last ? new Date(last.createdAt) : null;
}

/** Courses of tenants with a schedule whose roster is due (never synced, or longer ago than the schedule). */
export async function dueScheduledCourses(store: Store): Promise<Array<{ tenantId: string; courseId: string }>> {
  const { RosterSyncSchedule, CourseRosterSource } = store.models;
  const schedules = await RosterSyncSchedule.findAll({ raw: true });
  const due: Array<{ tenantId: string; courseId: string }> = [];
  for (const s of schedules) {
    const before = new Date(Date.now() - s.everyMinutes * 60_000);
    const rows = await CourseRosterSource.findAll({
      where: {
        tenantId: s.tenantId,
        [Op.or]: [{ lastSyncAt: null }, { lastSyncAt: { [Op.lt]: before } }],
      },
      attributes: ['tenantId', 'courseId'],
      raw: true,
    });
    due.push(...rows.map((r) => ({ tenantId: r.tenantId, courseId: r.courseId })));
  }
  return due;
}

/** Sets (or with null, removes) a tenant's roster schedule; audited. */
export async function setRosterSchedule(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  everyMinutes: number | null,
): Promise<{ everyMinutes: number | null }> {
  if (everyMinutes !== null && (!Number.isInteger(everyMinutes) || everyMinutes < 15 || everyMinutes > 10080))
    throw new ValidationError('A roster schedule runs every 15 to 10080 minutes');
  return inTransaction(store, async (t) => {
    const { RosterSyncSchedule } = store.models;
    const before = await RosterSyncSchedule.findOne({ where: { tenantId }, raw: true, transaction: t });
    if (everyMinutes === null) await RosterSyncSchedule.destroy({ where: { tenantId }, transaction: t });
    else if (before)
      await RosterSyncSchedule.update(
        { everyMinutes, updatedAt: store.sequelize.fn('now') },
        { where: { tenantId }, transaction: t },
      );
    else await RosterSyncSchedule.create({ tenantId, everyMinutes }, { transaction: t });
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'roster.schedule',
      targetType: 'tenant',
      targetId: tenantId,
      before: before ? { everyMinutes: before.everyMinutes } : null,
      after: { everyMinutes },
    });
    return { everyMinutes };
  });
}
