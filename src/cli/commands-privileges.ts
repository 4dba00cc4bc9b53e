import { readFile } from 'node:fs/promises';
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
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      if (row.some((c) => c.trim() !== '')) rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  row.push(cell);
  if (row.some((c) => c.trim() !== '')) rows.push(row);
  return rows;
}

const COLUMNS = ['email', 'key', 'roles', 'allow', 'deny'];

/** CSV → the rows the bulk API takes; empty cells are absent fields. */
export function csvToRows(text: string): Array<Record<string, unknown>> {
  const [header, ...body] = parseCsv(text.replace(/^\uFEFF/, ''));
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

/** A progress bar on stderr, so stdout stays parseable (--json). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr) {
  let last = 0;
  return (done: number, total: number) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    stream.write(
      `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(total ? (done / total) * 100 : 100)).padStart(3)}% ${done}/${total} rows${done >= total ? '\n' : ''}`,
    );
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
      const result: BulkResult = await bulkEnrol(
        ctx.store,
        { kind: 'admin', tenantId: tenant.id, tokenId: 'cli' },
        ctx.actor,
        courseRef,
        { rows },
        {
          invite: { publicUrl: ctx.config.publicUrl, ttlMs: ctx.config.privileges.invitationTtlMs },
          onProgress: progressBar(),
        },
      );
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
        throw new AppError(422, 'validation_failed', 'No row was imported');
    },
  },
};
