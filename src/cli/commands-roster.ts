import { nrpsFetcher } from '../../lti/nrps.js';
import { ServiceTokens } from '../../lti/service-token.js';
import { toolKeysFor } from '../../lti/session.js';
import { getCourse } from '../domain/courses.js';
import { listRosterSyncs, setRosterSchedule, syncCourseRoster, type RosterSyncView } from '../domain/roster-sync.js';
import { getTenantBySlug } from '../domain/tenants.js';
import type { Command, CommandContext } from './commands.js';
import { table, UsageError } from './io.js';

/** LMS roster sync (LTI NRPS) on the command line: run one now, see recent ones, set the tenant's schedule. */
function required(ctx: CommandContext, name: string): string {
  const v = ctx.flags[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v;
}

const describe = (s: RosterSyncView) => {
  const c = s.counts;
  const lines = [
    `Roster sync ${s.id} of course ${s.courseId}: ${s.status}${s.mode ? ` (${s.mode})` : ''}`,
    `  members ${c.members}; added ${c.added}, updated ${c.updated}, ended ${c.ended}, unchanged ${c.unchanged}, errors ${c.errors}`,
  ];
  for (const p of s.problems.slice(0, 20)) lines.push(`  member ${p.userId}: ${p.message}`);
  if (s.error) lines.push(`  error: ${s.error}`);
  return lines.join('\n');
};

async function courseOf(ctx: CommandContext) {
  const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
  const course = await getCourse(ctx.store, tenant.id, required(ctx, 'course'));
  return { tenantId: tenant.id, courseId: course.id };
}

/** Raised after printing a failed sync: exit code 1. */
class SyncFailed extends Error {}

export const rosterCommands: Record<string, Command> = {
  'roster sync': {
    usage: 'roster sync --tenant S --course <course id | key:SIS key> [--json]',
    options: { tenant: { type: 'string' }, course: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const { tenantId, courseId } = await courseOf(ctx);
      const keys = toolKeysFor(ctx.store);
      const tokens = new ServiceTokens({ signingKey: () => keys.signingKey() });
      const { nrps, fullSyncEveryMs } = ctx.config.rosterSync;
      const result = await syncCourseRoster(
        ctx.store,
        { fetchRoster: nrpsFetcher({ ...nrps, tokens }), fullSyncEveryMs },
        tenantId,
        courseId,
        { trigger: 'cli', actor: ctx.actor },
      );
      ctx.out.print(result, () => describe(result));
      if (result.status === 'failed') throw new SyncFailed(`roster sync failed: ${result.error}`);
    },
  },
  'roster syncs': {
    usage: 'roster syncs --tenant S --course <course id | key:SIS key> [--json]',
    options: { tenant: { type: 'string' }, course: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const { tenantId, courseId } = await courseOf(ctx);
      const syncs = await listRosterSyncs(ctx.store, tenantId, courseId);
      ctx.out.print(syncs, () =>
        table(
          syncs.map((s) => ({
            id: s.id,
            status: s.status,
            trigger: s.trigger,
            mode: s.mode ?? '-',
            added: s.counts.added,
            updated: s.counts.updated,
            ended: s.counts.ended,
            errors: s.counts.errors,
            created: s.createdAt,
          })) as never,
          ['id', 'status', 'trigger', 'mode', 'added', 'updated', 'ended', 'errors', 'created'],
        ),
      );
    },
  },
  'roster schedule': {
    usage: 'roster schedule --tenant S --every <minutes, 15..10080 | off> [--json]',
    options: { tenant: { type: 'string' }, every: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const every = required(ctx, 'every');
      if (every !== 'off' && !/^\d+$/.test(every)) throw new UsageError('--every takes minutes or "off"');
      const r = await setRosterSchedule(ctx.store, ctx.actor, tenant.id, every === 'off' ? null : Number(every));
      ctx.out.print(r, () =>
        r.everyMinutes === null
          ? `Roster schedule of ${tenant.slug}: off`
          : `Roster schedule of ${tenant.slug}: every ${r.everyMinutes} minutes`,
      );
    },
  },
};
