import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import yauzl from 'yauzl';
import { ValidationError } from '../../errors.js';
import { digestUser, type LineError, readRecord, type StagedUser } from './records.js';
import type { Stager } from './stage.js';
import {
  type FileMode,
  IMPORTED_FILES,
  type ImportedFile,
  KNOWN_FILES,
  type OneRosterVersion,
  REQUIRED_COLUMNS,
} from './vocabulary.js';

/**
 * A OneRoster CSV bundle: a zip with manifest.csv and the data files it declares (bulk, delta or
 * absent). Entries are read with yauzl (random access, so files are read in our order, not the
 * zip's) and parsed with csv-parse as streams: a file of any length is read in bounded memory.
 */
export const MAX_BUNDLE_ENTRY_BYTES = 1024 * 1024 * 1024;

export interface BundleManifest {
  version: OneRosterVersion;
  modes: Record<ImportedFile, FileMode>;
  /** Files in the zip we do not import (named in the report). */
  ignored: string[];
}

export interface FileReport {
  mode: FileMode;
  rows: number;
}

type ZipFile = yauzl.ZipFile;

export function openZip(source: string | Buffer): Promise<ZipFile> {
  const options = { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true };
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zip?: ZipFile) => (err || !zip ? reject(notAZip(err)) : resolve(zip));
    if (typeof source === 'string') yauzl.open(source, options, done);
    else yauzl.fromBuffer(source, options, done);
  });
}

const notAZip = (err: Error | null) =>
  new ValidationError(`The bundle is not a readable zip file${err ? `: ${err.message}` : ''}`);

/** Entries by file name (the base name: many exports put the CSVs in a folder), directories and macOS litter left out. */
export function listEntries(zip: ZipFile): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, yauzl.Entry>();
    zip.on('entry', (entry: yauzl.Entry) => {
      const name = entry.fileName;
      if (!name.endsWith('/') && !name.startsWith('__MACOSX/') && !posix.basename(name).startsWith('.'))
        entries.set(posix.basename(name), entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (err: Error) => reject(notAZip(err)));
    zip.readEntry();
  });
}

export function entryStream(zip: ZipFile, entry: yauzl.Entry): Promise<Readable> {
  if (entry.uncompressedSize > MAX_BUNDLE_ENTRY_BYTES)
    throw new ValidationError(`${entry.fileName} is larger than ${MAX_BUNDLE_ENTRY_BYTES} bytes uncompressed`);
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => (err || !stream ? reject(notAZip(err)) : resolve(stream)));
  });
}

/** Header name → column index, compared without case or surrounding spaces. */
function headerIndex(header: string[]): Map<string, number> {
  const index = new Map<string, number>();
  header.forEach((h, i) => {
    const key = h.trim().toLowerCase();
    if (key && !index.has(key)) index.set(key, i);
  });
  return index;
}

/**
 * Records with their line numbers. csv-parse's `info` option doubles its cost, so lines are counted
 * here: a record takes one line plus the line breaks inside its quoted cells, and blank lines
 * (kept by the parser as one empty cell) are counted and skipped.
 */
async function* csvRows(stream: Readable, file: string, errors: LineError[]) {
  const parser = stream.pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: false }));
  stream.on('error', (err) => parser.destroy(err));
  let line = 0;
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      line++;
      const start = line;
      for (let i = 0; i < cells.length; i++) {
        let cell = cells[i];
        if (cell.includes('\n')) line += cell.split('\n').length - 1;
        if (cell.length && (cell.charCodeAt(0) <= 32 || cell.charCodeAt(cell.length - 1) <= 32)) cell = cell.trim();
        cells[i] = cell;
      }
      if (cells.length === 1 && cells[0] === '') continue;
      yield { cells, line: start };
    }
  } catch (err) {
    if (err instanceof CsvError) {
      const lines = (err as CsvError & { lines?: number }).lines;
      errors.push({ file, line: lines ?? line + 1, column: null, message: `not valid CSV: ${err.message}` });
      return;
    }
    throw err;
  }
}

/** manifest.csv: `propertyName,value` rows; the version and one mode per file. */
export async function readManifest(zip: ZipFile, entries: Map<string, yauzl.Entry>, errors: LineError[]) {
  const entry = entries.get('manifest.csv');
  if (!entry) {
    errors.push({ file: 'manifest.csv', line: 0, column: null, message: 'the bundle has no manifest.csv' });
    return null;
  }
  const props = new Map<string, { value: string; line: number }>();
  let index: Map<string, number> | null = null;
  for await (const { cells, line } of csvRows(await entryStream(zip, entry), 'manifest.csv', errors)) {
    if (!index) {
      index = headerIndex(cells);
      for (const column of ['propertyName', 'value'])
        if (!index.has(column.toLowerCase()))
          errors.push({ file: 'manifest.csv', line, column, message: 'missing column' });
      continue;
    }
    const name = cells[index.get('propertyname') ?? 0] ?? '';
    if (name) props.set(name, { value: cells[index.get('value') ?? 1] ?? '', line });
  }
  const versionProp = props.get('oneroster.version');
  let version: OneRosterVersion = '1.1';
  if (!versionProp)
    errors.push({
      file: 'manifest.csv',
      line: 0,
      column: 'oneroster.version',
      message: 'missing; expected 1.1 or 1.2',
    });
  else if (versionProp.value === '1.1' || versionProp.value === '1.2') version = versionProp.value;
  else
    errors.push({
      file: 'manifest.csv',
      line: versionProp.line,
      column: 'value',
      message: `oneroster.version "${versionProp.value}" is not 1.1 or 1.2`,
    });
  const modes = {} as Record<ImportedFile, FileMode>;
  for (const file of IMPORTED_FILES) {
    const prop = props.get(`file.${file}`);
    const mode = (prop?.value.toLowerCase() || 'absent') as FileMode;
    modes[file] = 'absent';
    if (!['bulk', 'delta', 'absent'].includes(mode)) {
      errors.push({
        file: 'manifest.csv',
        line: prop!.line,
        column: 'value',
        message: `file.${file} "${prop!.value}" is not bulk, delta or absent`,
      });
      continue;
    }
    if (file === 'roles' && version === '1.1') continue; // 1.1 keeps roles on users.csv
    if (mode !== 'absent' && !entries.has(`${file}.csv`)) {
      errors.push({
        file: 'manifest.csv',
        line: prop!.line,
        column: 'value',
        message: `file.${file} is ${mode} but the bundle has no ${file}.csv`,
      });
      continue;
    }
    modes[file] = mode;
  }
  if (version === '1.2' && modes.users === 'bulk' && modes.roles === 'absent')
    errors.push({
      file: 'manifest.csv',
      line: props.get('file.roles')?.line ?? 0,
      column: 'file.roles',
      message: 'OneRoster 1.2 keeps roles in roles.csv: a bulk users.csv needs it',
    });
  const imported = new Set(IMPORTED_FILES.filter((f) => modes[f] !== 'absent').map((f) => `${f}.csv`));
  const ignored = [...entries.keys()].filter((n) => n !== 'manifest.csv' && !imported.has(n)).sort();
  return { version, modes, ignored } satisfies BundleManifest;
}

/**
 * Reads every file the manifest declares into the stager. Field errors, missing columns and
 * duplicate sourcedIds are line errors; reading goes on to report as many as it can.
 */
export async function stageBundle(
  zip: ZipFile,
  entries: Map<string, yauzl.Entry>,
  manifest: BundleManifest,
  stager: Stager,
  errors: LineError[],
): Promise<Record<string, FileReport>> {
  const reports: Record<string, FileReport> = {};
  const rolesByUser = new Map<string, string[]>();
  for (const file of IMPORTED_FILES) {
    const mode = manifest.modes[file];
    if (mode === 'absent') continue;
    const name = `${file}.csv`;
    const report: FileReport = { mode, rows: 0 };
    reports[name] = report;
    const stream = await entryStream(zip, entries.get(name)!);
    await stageRows(csvRows(stream, name, errors), file, manifest.version, stager, errors, report, rolesByUser);
  }
  await stager.flushAll();
  return reports;
}

/** Rows (header first) of one file into the stager; shared with the REST reader, which hands in CSV-shaped rows. */
export async function stageRows(
  rows: AsyncIterable<{ cells: string[]; line: number }>,
  file: ImportedFile,
  version: OneRosterVersion,
  stager: Stager,
  errors: LineError[],
  report: FileReport,
  rolesByUser: Map<string, string[]>,
  name = `${file}.csv`,
): Promise<void> {
  let index: Map<string, number> | null = null;
  for await (const { cells, line } of rows) {
    if (!index) {
      index = headerIndex(cells);
      const missing = REQUIRED_COLUMNS[version][file].filter((col) => !index!.has(col.toLowerCase()));
      for (const column of missing) errors.push({ file: name, line, column, message: 'missing column' });
      if (missing.length) return;
      continue;
    }
    report.rows++;
    const idx = index;
    const fields = (column: string) => {
      const i = idx.get(column.toLowerCase());
      return i === undefined ? undefined : cells[i];
    };
    const staged = readRecord(file, version, fields, line, errors, name);
    if (!staged) continue;
    switch (staged.file) {
      case 'roles':
        if (staged.record.status === 'active') {
          const list = rolesByUser.get(staged.record.userSourcedId) ?? [];
          if (!list.includes(staged.record.role)) list.push(staged.record.role);
          rolesByUser.set(staged.record.userSourcedId, list);
        }
        break;
      case 'users': {
        const user: StagedUser = staged.record;
        for (const role of rolesByUser.get(user.sourcedId) ?? []) if (!user.roles.includes(role)) user.roles.push(role);
        user.digest = digestUser(user);
        await stager.add('user', user);
        break;
      }
      case 'classes':
        await stager.add('class', staged.record);
        break;
      case 'enrollments':
        await stager.add('enrollment', staged.record);
        break;
      default:
        await stager.add('other', staged.record);
    }
  }
  if (!index)
    errors.push({ file: name, line: 1, column: null, message: 'the file is empty (a header row is required)' });
}

/** Files in the zip that the 1.1/1.2 bindings do not define at all (a typo in a name, usually). */
export function unknownFiles(ignored: string[]): string[] {
  return ignored.filter((n) => !KNOWN_FILES.has(n.replace(/\.csv$/, '')));
}
