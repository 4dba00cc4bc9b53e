import { parse } from 'csv-parse/browser/esm/sync';

/**
 * The rows of a bulk upload, read in the browser exactly as `rosterbridge import` reads its CSV
 * (src/cli/commands-privileges.ts, csvToRows): a header row with any of email, key, roles, allow,
 * deny in any order; lists separated by ";" or "|"; empty cells are absent fields; rows of empty
 * cells are skipped. A plain list of emails or school ids (one per line or comma separated) is
 * read as rows with one role.
 */
export const CSV_COLUMNS = ['email', 'key', 'roles', 'allow', 'deny'] as const;

export interface RosterRow {
  email?: string;
  key?: string;
  roles?: string[];
  allow?: string[];
  deny?: string[];
}

export class RosterFormatError extends Error {}

export interface ParsedRoster {
  rows: RosterRow[];
  /** The line of the input each row came from (1-based), for the results table. */
  lines: number[];
  kind: 'csv' | 'list';
}

export function readRoster(text: string, listRole: string): ParsedRoster {
  const firstLine =
    text
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .find((l) => l.trim() !== '') ?? '';
  const header = firstLine.split(',').map((h) => h.trim().toLowerCase());
  if (header.some((h) => h === 'email' || h === 'key')) return readCsv(text);
  const rows: RosterRow[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    for (const item of line.split(/[,;\t]/)) {
      const v = item.trim();
      if (!v) continue;
      rows.push(v.includes('@') ? { email: v, roles: [listRole] } : { key: v, roles: [listRole] });
      lines.push(i + 1);
    }
  });
  return { rows, lines, kind: 'list' };
}

function readCsv(text: string): ParsedRoster {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, {
      bom: true,
      relax_column_count: true,
      skip_records_with_empty_values: true,
      trim: true,
      info: true,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (err) {
    throw new RosterFormatError(`The CSV file is malformed: ${(err as Error).message}`);
  }
  const [head, ...body] = records;
  if (!head) throw new RosterFormatError('The CSV file is empty');
  const names = head.record.map((h) => h.trim().toLowerCase());
  const unknown = names.filter((n) => !(CSV_COLUMNS as readonly string[]).includes(n));
  if (unknown.length)
    throw new RosterFormatError(`Unknown CSV column ${unknown.join(', ')}; use ${CSV_COLUMNS.join(', ')}`);
  const rows = body.map(({ record }) => {
    const row: Record<string, unknown> = {};
    names.forEach((n, i) => {
      const v = (record[i] ?? '').trim();
      if (!v) return;
      row[n] =
        n === 'email' || n === 'key'
          ? v
          : v
              .split(/[;|]/)
              .map((x) => x.trim())
              .filter(Boolean);
    });
    return row as RosterRow;
  });
  return { rows, lines: body.map((r) => r.info.lines), kind: 'csv' };
}
