import { readFile } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import { CsvError, parse } from 'csv-parse/sync';
import { bulkEnrol, BULK_MAX_ROWS, SUCCESS, type BulkResult } from '../domain/bulk-enrolment.js';
import { getTenantBySlug } from '../domain/tenants.js';
import { AppError } from '../errors.js';
import type { Command, CommandContext } from './commands.js';
import { table, UsageError } from './io.js';

/**
 * `import --tenant S --course C file.csv`: bulk pre-enrolment from a CSV with the same semantics
 * (per-row status, atomic per row, idempotent) as POST /api/v1/courses/{id}/enrolments.
 * Columns (header row, any order): email, key, roles, allow, deny; lists separated by ";" or "|".
 */
export function parseCsv(text: string): string[][] {
  try {
    // Lines that hold only empty cells are skipped, as a spreadsheet's trailing rows are.
    return parse(text, { bom: true, relax_column_count: true, skip_records_with_empty_values: true, trim: true });
  } catch (err) {
    if (err instanceof CsvError) throw new UsageError(`the CSV file is malformed: ${err.message}`);
    throw err;
  }
}

const COLUMNS = ['email', 'key', 'roles', 'allow', 'deny'];

/** CSV → the rows the bulk API takes; empty cells are absent fields. */
export function csvToRows(text: string): Array<Record<string, unknown>> {
  const [header, ...body] = parseCsv(text);
  if (!header) throw new UsageError('the CSV file is empty');
  const names = header.map((h) => h.trim().toLowerCase());
  const unknown = names.filter((n) => !COLUMNS.includes(n));
  if (unknown.length) throw new UsageError(`unknown CSV column ${unknown.join(', ')}; use ${COLUMNS.join(', ')}`);
  if (!names.includes('email') && !names.includes('key'))
    throw new UsageError('the CSV needs an email or a key column');
  return body.map((cells) => {
    const row: Record<string, unknown> = {};
    names.forEach((n, i) => {
      const v = (cells[i] ?? '').trim();
      if (!v) return;
      row[n] =
        n === 'email' || n === 'key'
          ? v
          : v
              .split(/[;|]/)
              .map((x) => x.trim())
              .filter(Boolean);
    });
    return row;
  });
}

/** A progress bar on stderr, so stdout stays parseable (--json); also drawn when stderr is a pipe. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr) {
  const bar = new SingleBar({
    stream,
    format: '[{bar}] {percentage}% {value}/{total} rows',
    barCompleteChar: '#',
    barIncompleteChar: '-',
    barsize: 30,
    fps: 10,
    noTTYOutput: true,
    notTTYSchedule: 1000,
    hideCursor: false,
  });
  let started = false;
  return {
    onProgress(done: number, total: number) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else bar.update(done);
    },
    /** Draws the last state and releases the bar's timer (also when the import failed). */
    stop() {
      if (started) bar.stop();
    },
  };
}

export const privilegeCommands: Record<string, Command> = {
  import: {
    usage: 'import --tenant S --course <course id | SIS key> file.csv [--json]',
    options: { tenant: { type: 'string' }, course: { type: 'string' } },
    needsDb: true,
    async run(ctx: CommandContext) {
      const slug = ctx.flags.tenant;
      const courseFlag = ctx.flags.course;
      if (typeof slug !== 'string' || !slug) throw new UsageError('--tenant is required');
      if (typeof courseFlag !== 'string' || !courseFlag) throw new UsageError('--course is required');
      const file = ctx.positionals[0];
      if (!file) throw new UsageError('import needs the CSV file');
      const rows = csvToRows(await readFile(file, 'utf8'));
      if (rows.length > BULK_MAX_ROWS)
        throw new UsageError(`at most ${BULK_MAX_ROWS} rows per import; this file has ${rows.length}`);
      const tenant = await getTenantBySlug(ctx.store, slug);
      const courseRef =
        /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(courseFlag) || courseFlag.startsWith('key:')
          ? courseFlag
          : `key:${courseFlag}`;
      const progress = progressBar();
      let result: BulkResult;
      try {
        result = await bulkEnrol(
          ctx.store,
          { kind: 'admin', tenantId: tenant.id, tokenId: 'cli' },
          ctx.actor,
          courseRef,
          { rows },
          {
            invite: { publicUrl: ctx.config.publicUrl, ttlMs: ctx.config.privileges.invitationTtlMs },
            onProgress: progress.onProgress,
          },
        );
      } finally {
        progress.stop();
      }
      const failed = result.results.filter((r) => !SUCCESS.includes(r.status));
      ctx.out.print(result, () =>
        [
          `Imported ${rows.length} rows into course ${result.courseId}: ${Object.entries(result.summary)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ')}.`,
          ...(failed.length
            ? [
                '',
                'Rows not imported (line = CSV line):',
                table(failed.map((r) => ({ line: r.row + 2, ref: r.ref, status: r.status, error: r.error })) as never, [
                  'line',
                  'ref',
                  'status',
                  'error',
                ]),
              ]
            : []),
        ].join('\n'),
      );
      if (failed.length === rows.length && rows.length > 0)
        throw new AppError('validation_failed', 'No row was imported');
    },
  },
};
