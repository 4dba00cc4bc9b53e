import { access } from 'node:fs/promises';
import { setOneRosterConnection, syncOneRosterApi } from '../domain/oneroster/connections.js';
import { BundleRefusedError, type ImportReport, importOneRosterBundle } from '../domain/oneroster/import.js';
import { getTenantBySlug } from '../domain/tenants.js';
import type { Command, CommandContext } from './commands.js';
import { table, UsageError } from './io.js';

/**
 * `oneroster import | connect | sync`: the OneRoster door from the command line, with the same
 * semantics as the admin API (whole or nothing; --dry-run reports what would change).
 */
function requiredFlag(ctx: CommandContext, name: string): string {
  const v = ctx.flags[name];
  if (typeof v !== 'string' || !v.trim()) throw new UsageError(`--${name} is required`);
  return v;
}

/** The report in words: what changed, which files were read and which ignored. */
export function describeReport(r: ImportReport): string {
  const s = r.summary;
  const head = r.dryRun ? 'Dry run (nothing written): would change' : r.applied ? 'Imported:' : 'Refused:';
  const files = Object.entries(r.files).map(([name, f]) => `${name} (${f.mode}, ${f.rows} rows)`);
  return [
    `${head} ${s.changes} change${s.changes === 1 ? '' : 's'} (OneRoster ${r.version ?? '?'})`,
    `  people:      ${s.people.created} created, ${s.people.updated} updated, ${s.people.linked} matched to existing people, ${s.people.deprovisioned} deprovisioned, ${s.people.unlinked} unlinked`,
    `  courses:     ${s.courses.created} created, ${s.courses.updated} updated`,
    `  memberships: ${s.memberships.added} added, ${s.memberships.updated} updated, ${s.memberships.ended} ended`,
    `  records:     ${s.records.created} new, ${s.records.updated} changed, ${s.records.deleted} removed${s.unknownDeletes ? `; ${s.unknownDeletes} tobedeleted rows named nothing we had` : ''}`,
    `  read:        ${files.join(', ') || '-'}`,
    ...(r.ignored.length ? [`  ignored:     ${r.ignored.join(', ')}`] : []),
  ].join('\n');
}

function printRefusal(ctx: CommandContext, err: BundleRefusedError): void {
  const r = err.report;
  ctx.out.print({ ...r, refused: true }, () =>
    [
      `Refused: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}, nothing was written.`,
      table(r.errors.slice(0, 200) as never, ['file', 'line', 'column', 'message']),
      ...(r.errors.length > 200 ? [`… and ${r.errors.length - 200} more (--json lists up to 1000)`] : []),
    ].join('\n'),
  );
}

async function withRefusal(ctx: CommandContext, run: () => Promise<ImportReport>): Promise<void> {
  try {
    const report = await run();
    ctx.out.print(report, () => describeReport(report));
  } catch (err) {
    if (err instanceof BundleRefusedError) printRefusal(ctx, err);
    throw err;
  }
}

export const oneRosterCommands: Record<string, Command> = {
  'oneroster import': {
    usage: 'oneroster import --tenant S bundle.zip [--dry-run] [--json]   (OneRoster 1.1/1.2 CSV bundle)',
    options: { tenant: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await getTenantBySlug(ctx.store, requiredFlag(ctx, 'tenant'));
      const file = ctx.positionals[0];
      if (!file) throw new UsageError('oneroster import needs the bundle (a .zip)');
      await access(file).catch(() => {
        throw new UsageError(`cannot read ${file}`);
      });
      await withRefusal(ctx, () =>
        importOneRosterBundle(ctx.store, ctx.actor, tenant.id, file, { dryRun: Boolean(ctx.flags['dry-run']) }),
      );
    },
  },
  'oneroster connect': {
    usage:
      'oneroster connect --tenant S --base-url URL --token-url URL --client-id ID [--scope S] [--page-size N] [--every MINUTES]   (secret from ONEROSTER_CLIENT_SECRET)',
    options: {
      tenant: { type: 'string' },
      'base-url': { type: 'string' },
      'token-url': { type: 'string' },
      'client-id': { type: 'string' },
      scope: { type: 'string' },
      'page-size': { type: 'string' },
      every: { type: 'string' },
    },
    needsDb: true,
    async run(ctx) {
      const tenant = await getTenantBySlug(ctx.store, requiredFlag(ctx, 'tenant'));
      // From the environment, not a flag: a flag lands in shell history and process listings.
      const secret = process.env.ONEROSTER_CLIENT_SECRET;
      if (!secret) throw new UsageError('set ONEROSTER_CLIENT_SECRET to the OAuth 2 client secret');
      const pageSize = ctx.flags['page-size'];
      const view = await setOneRosterConnection(
        ctx.store,
        ctx.actor,
        tenant.id,
        {
          baseUrl: requiredFlag(ctx, 'base-url'),
          tokenUrl: requiredFlag(ctx, 'token-url'),
          clientId: requiredFlag(ctx, 'client-id'),
          clientSecret: secret,
          scope: typeof ctx.flags.scope === 'string' ? ctx.flags.scope : null,
          ...(typeof pageSize === 'string' ? { pageSize: Number(pageSize) } : {}),
          ...(typeof ctx.flags.every === 'string' ? { syncEveryMinutes: Number(ctx.flags.every) } : {}),
        },
        ctx.config.oneroster,
      );
      ctx.out.print(
        view,
        () =>
          `OneRoster API configured for ${tenant.slug}: ${view.baseUrl} (client ${view.clientId}, secret ${view.secretSealed ? 'sealed' : 'stored unsealed: set TOOL_KEY_SECRET'}; ${view.syncEveryMinutes ? `pulled every ${view.syncEveryMinutes} min` : 'pulled on demand'})`,
      );
    },
  },
  'oneroster sync': {
    usage: 'oneroster sync --tenant S [--dry-run] [--json]   (pull the configured OneRoster API now)',
    options: { tenant: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await getTenantBySlug(ctx.store, requiredFlag(ctx, 'tenant'));
      await withRefusal(ctx, () =>
        syncOneRosterApi(
          ctx.store,
          { ...ctx.config.oneroster, actor: ctx.actor, dryRun: Boolean(ctx.flags['dry-run']) },
          tenant.id,
        ),
      );
    },
  },
};
