import type { Transaction } from 'sequelize';
import { exec, select } from '../../db/sql.js';
import type { Store } from '../../db/store.js';
import type { LineError, StagedClass, StagedEnrollment, StagedOther, StagedUser } from './records.js';
import type { ImportedFile } from './vocabulary.js';

/**
 * Staged rows go to temporary tables of the import's transaction in batches (one INSERT … SELECT
 * FROM unnest per batch), so a bundle of any size is read in bounded memory and mapped with
 * set-based statements (apply.ts). The tables vanish with the transaction, committed or not.
 */
const BATCH = 5000;
const SEP = '\u001f';

const TABLES = `
CREATE TEMP TABLE or_others (kind text, line int, sourced_id text, status text, title text, digest text) ON COMMIT DROP;
CREATE TEMP TABLE or_classes (line int, sourced_id text, status text, title text, course_sourced_id text, digest text,
  course_id uuid, prior_status text, prior_digest text, created_here boolean NOT NULL DEFAULT false, was_created boolean NOT NULL DEFAULT false) ON COMMIT DROP;
CREATE TEMP TABLE or_users (line int, sourced_id text, status text, enabled boolean, username text, email text, given_name text,
  family_name text, identifiers text[], roles text[], digest text, person_id uuid, matched_by text, prior_status text,
  prior_digest text, prior_person uuid, was_created boolean NOT NULL DEFAULT false, was_updated boolean NOT NULL DEFAULT false) ON COMMIT DROP;
CREATE TEMP TABLE or_enrollments (line int, sourced_id text, status text, class_sourced_id text, user_sourced_id text, role text,
  digest text, person_id uuid, course_id uuid) ON COMMIT DROP;
CREATE TEMP TABLE or_pairs (person_id uuid, course_id uuid) ON COMMIT DROP;
CREATE TEMP TABLE or_gone (kind text, sourced_id text, person_id uuid) ON COMMIT DROP;
CREATE INDEX ON or_gone (kind, sourced_id)`;

/** Built once the rows are in (cheaper than maintaining them row by row), then analysed for the planner. */
const INDEXES = `
CREATE INDEX ON or_others (kind, sourced_id);
CREATE INDEX ON or_classes (sourced_id);
CREATE INDEX ON or_users (sourced_id);
CREATE INDEX ON or_users (person_id);
CREATE INDEX ON or_enrollments (sourced_id);
ANALYZE or_others, or_classes, or_users, or_enrollments`;

export class Stager {
  private others: StagedOther[] = [];
  /** The batch insert in flight: the next batch is parsed while it runs (one connection, so at most one). */
  private pending: Promise<void> | null = null;
  private classes: StagedClass[] = [];
  private users: StagedUser[] = [];
  private enrollments: StagedEnrollment[] = [];

  constructor(
    private readonly store: Store,
    private readonly t: Transaction,
  ) {}

  async indexes(): Promise<void> {
    for (const statement of INDEXES.split(';')
      .map((x) => x.trim())
      .filter(Boolean))
      await exec(this.store, statement, [], this.t);
  }

  async open(): Promise<void> {
    // One statement per call: a bound query cannot hold several.
    for (const statement of TABLES.split(';')
      .map((x) => x.trim())
      .filter(Boolean))
      await exec(this.store, statement, [], this.t);
  }

  async add(kind: 'other', r: StagedOther): Promise<void>;
  async add(kind: 'class', r: StagedClass): Promise<void>;
  async add(kind: 'user', r: StagedUser): Promise<void>;
  async add(kind: 'enrollment', r: StagedEnrollment): Promise<void>;
  async add(kind: string, r: unknown): Promise<void> {
    const list = this.listOf(kind) as unknown[];
    list.push(r);
    if (list.length >= BATCH) await this.flush(kind);
  }

  private listOf(kind: string) {
    return kind === 'other'
      ? this.others
      : kind === 'class'
        ? this.classes
        : kind === 'user'
          ? this.users
          : this.enrollments;
  }

  /** A sourcedId on two lines of one file: the later lines are errors (checked in SQL, not in a Set of every id). */
  async duplicates(nameOf: (file: ImportedFile) => string, errors: LineError[]): Promise<void> {
    const sources: Array<[ImportedFile, string, string]> = [
      ['orgs', 'or_others', "kind = 'org'"],
      ['academicSessions', 'or_others', "kind = 'academicSession'"],
      ['courses', 'or_others', "kind = 'course'"],
      ['classes', 'or_classes', 'true'],
      ['users', 'or_users', 'true'],
      ['enrollments', 'or_enrollments', 'true'],
    ];
    for (const [file, table, where] of sources) {
      const rows = await select<{ line: number; first: number; sourced_id: string }>(
        this.store,
        `SELECT line, first, sourced_id FROM (
           SELECT line, sourced_id, first_value(line) OVER w AS first, row_number() OVER w AS n FROM ${table} WHERE ${where}
           WINDOW w AS (PARTITION BY sourced_id ORDER BY line)) x
          WHERE n > 1 ORDER BY line LIMIT 1000`,
        [],
        this.t,
      );
      for (const r of rows)
        errors.push({
          file: nameOf(file),
          line: r.line,
          column: 'sourcedId',
          message: `"${r.sourced_id}" is also on line ${r.first}`,
        });
    }
  }

  async flushAll(): Promise<void> {
    for (const kind of ['other', 'class', 'user', 'enrollment']) await this.flush(kind);
    await this.settle();
  }

  private async settle(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p) await p;
  }

  /** Starts the batch's insert once the previous one has finished, without waiting for it. */
  private async flush(kind: string): Promise<void> {
    await this.settle();
    const running = this.insert(kind);
    running.catch(() => {}); // awaited by the next flush or by flushAll
    this.pending = running;
  }

  private async insert(kind: string): Promise<void> {
    const { store, t } = this;
    if (kind === 'other' && this.others.length) {
      const rows = this.others;
      this.others = [];
      await exec(
        store,
        `INSERT INTO or_others SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])`,
        [
          rows.map((r) => r.kind),
          rows.map((r) => r.line),
          rows.map((r) => r.sourcedId),
          rows.map((r) => r.status),
          rows.map((r) => r.title),
          rows.map((r) => r.digest),
        ],
        t,
      );
    } else if (kind === 'class' && this.classes.length) {
      const rows = this.classes;
      this.classes = [];
      await exec(
        store,
        `INSERT INTO or_classes (line, sourced_id, status, title, course_sourced_id, digest)
         SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
        [
          rows.map((r) => r.line),
          rows.map((r) => r.sourcedId),
          rows.map((r) => r.status),
          rows.map((r) => r.title),
          rows.map((r) => r.courseSourcedId),
          rows.map((r) => r.digest),
        ],
        t,
      );
    } else if (kind === 'user' && this.users.length) {
      const rows = this.users;
      this.users = [];
      await exec(
        store,
        `INSERT INTO or_users (line, sourced_id, status, enabled, username, email, given_name, family_name, identifiers, roles, digest)
         SELECT l, s, st, en, un, em, gn, fn, CASE WHEN ids = '' THEN '{}'::text[] ELSE string_to_array(ids, E'\\x1f') END,
                CASE WHEN rl = '' THEN '{}'::text[] ELSE string_to_array(rl, E'\\x1f') END, d
         FROM unnest($1::int[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
           AS x (l, s, st, en, un, em, gn, fn, ids, rl, d)`,
        [
          rows.map((r) => r.line),
          rows.map((r) => r.sourcedId),
          rows.map((r) => r.status),
          rows.map((r) => r.enabled),
          rows.map((r) => r.username),
          rows.map((r) => r.email),
          rows.map((r) => r.givenName),
          rows.map((r) => r.familyName),
          rows.map((r) => r.identifiers.join(SEP)),
          rows.map((r) => r.roles.join(SEP)),
          rows.map((r) => r.digest),
        ],
        t,
      );
    } else if (kind === 'enrollment' && this.enrollments.length) {
      const rows = this.enrollments;
      this.enrollments = [];
      await exec(
        store,
        `INSERT INTO or_enrollments (line, sourced_id, status, class_sourced_id, user_sourced_id, role, digest)
         SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
        [
          rows.map((r) => r.line),
          rows.map((r) => r.sourcedId),
          rows.map((r) => r.status),
          rows.map((r) => r.classSourcedId),
          rows.map((r) => r.userSourcedId),
          rows.map((r) => r.role),
          rows.map((r) => r.digest),
        ],
        t,
      );
    }
  }
}
