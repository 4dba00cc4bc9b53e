import type { Transaction } from 'sequelize';
import { exec } from '../../db/sql.js';
import type { ActorContext, Store } from '../../db/store.js';
import { AppError } from '../../errors.js';
import { recordAudit } from '../audit.js';
import { emitRosterSynced } from '../events.js';
import { applyStaged, emptySummary, type ImportSummary } from './apply.js';
import { type FileReport, listEntries, openZip, readManifest, stageBundle, unknownFiles } from './bundle.js';
import type { LineError } from './records.js';
import { Stager } from './stage.js';
import type { FileMode, ImportedFile, OneRosterVersion } from './vocabulary.js';

/**
 * `rosterbridge oneroster import` and POST /api/v1/oneroster/imports: a bundle is applied whole in
 * one transaction or not at all. Any line error in a file we import refuses it (nothing written);
 * a dry run does everything and rolls back, so its summary is exactly what the import would change.
 */
export interface ImportReport {
  dryRun: boolean;
  applied: boolean;
  importId: string | null;
  version: OneRosterVersion | null;
  files: Record<string, FileReport>;
  /** Files in the bundle we do not import; `unknown` are not OneRoster files at all. */
  ignored: string[];
  unknown: string[];
  errors: LineError[];
  summary: ImportSummary;
}

const MAX_REPORTED_ERRORS = 1000;
/** Advisory lock namespace of OneRoster imports (src/domain/locks.ts uses 7_202_620 and 7_202_621). */
const IMPORT_LOCK_NAMESPACE = 7_202_690;

/** The bundle was refused: per-file, per-line errors in `details.errors`. */
export class BundleRefusedError extends AppError {
  constructor(readonly report: ImportReport) {
    const n = report.errors.length;
    super(
      'validation_failed',
      `The OneRoster bundle was refused: ${n} error${n === 1 ? '' : 's'}; nothing was written`,
      {
        details: {
          errors: report.errors.slice(0, MAX_REPORTED_ERRORS),
          errorCount: n,
          files: report.files,
          ignored: report.ignored,
        },
      },
    );
  }
}

export interface ImportOptions {
  dryRun?: boolean;
}

export async function importOneRosterBundle(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  source: string | Buffer,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const zip = await openZip(source);
  try {
    const entries = await listEntries(zip);
    const errors: LineError[] = [];
    const manifest = await readManifest(zip, entries, errors);
    const report: ImportReport = {
      dryRun: Boolean(options.dryRun),
      applied: false,
      importId: null,
      version: manifest?.version ?? null,
      files: {},
      ignored: manifest?.ignored ?? [],
      unknown: unknownFiles(manifest?.ignored ?? []),
      errors,
      summary: emptySummary(),
    };
    if (!manifest || errors.length) throw new BundleRefusedError(report);
    return await runImport(
      store,
      ctx,
      tenantId,
      { origin: 'csv', version: manifest.version, modes: manifest.modes, dryRun: report.dryRun },
      report,
      (stager) => stageBundle(zip, entries, manifest, stager, errors),
    );
  } finally {
    zip.close();
  }
}

/**
 * The transaction every import runs in, CSV or REST: stage, check, map, audit, then commit (or
 * roll back on an error or a dry run). The import's rows live only if it commits.
 */
export async function runImport(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  input: { origin: 'csv' | 'api'; version: OneRosterVersion; modes: Record<ImportedFile, FileMode>; dryRun: boolean },
  report: ImportReport,
  stage: (stager: Stager) => Promise<Record<string, FileReport>>,
): Promise<ImportReport> {
  const t: Transaction = await store.sequelize.transaction();
  let committed = false;
  try {
    // One import is one long transaction of set-based statements: the per-statement timeout
    // protecting interactive requests does not apply to it.
    await exec(store, 'SET LOCAL statement_timeout = 0', [], t);
    // One import per tenant at a time (a second waits): two would race to create the same people.
    await exec(
      store,
      'SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))',
      [IMPORT_LOCK_NAMESPACE, tenantId],
      t,
    );
    const row = await store.models.OneRosterImport.create(
      { tenantId, origin: input.origin, version: input.version, actor: ctx.actor, files: {} },
      { transaction: t },
    );
    const stager = new Stager(store, t);
    await stager.open();
    const started = performance.now();
    report.files = await stage(stager);
    const nameOf = (file: ImportedFile) => (input.origin === 'csv' ? `${file}.csv` : `GET /${file}`);
    await stager.indexes();
    await stager.duplicates(nameOf, report.errors);
    if (process.env.ONEROSTER_TRACE)
      process.stderr.write(`oneroster: staged ${(performance.now() - started).toFixed(0)} ms\n`);
    if (report.errors.length) throw new BundleRefusedError(report);
    report.summary = await applyStaged(store, t, ctx, {
      tenantId,
      importId: row.id,
      modes: input.modes,
      errors: report.errors,
      nameOf,
    });
    if (report.errors.length) throw new BundleRefusedError(report);
    if (input.dryRun) return report;
    await row.update(
      { files: { ...report.files, ignored: report.ignored }, summary: { ...report.summary } },
      { transaction: t },
    );
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'oneroster.import',
      targetType: 'oneroster_import',
      targetId: row.id,
      after: { origin: input.origin, version: input.version, files: report.files, summary: report.summary },
    });
    const sum = report.summary;
    await emitRosterSynced(store, t, tenantId, {
      source: input.origin === 'csv' ? 'oneroster-csv' : 'oneroster-api',
      courseId: null,
      importId: row.id,
      added: sum.people.created + sum.courses.created + sum.memberships.added,
      updated: sum.people.updated + sum.people.linked + sum.courses.updated + sum.memberships.updated,
      ended: sum.memberships.ended + sum.people.deprovisioned + sum.people.unlinked,
      errors: 0,
    });
    await t.commit();
    committed = true;
    report.applied = true;
    report.importId = row.id;
    return report;
  } finally {
    if (!committed) await t.rollback();
  }
}

export async function listImports(store: Store, tenantId: string, limit = 50) {
  const rows = await store.models.OneRosterImport.findAll({
    where: { tenantId },
    order: [['createdAt', 'DESC']],
    limit: Math.min(Math.max(limit, 1), 200),
    raw: true,
  });
  return rows.map((r) => ({
    id: r.id,
    origin: r.origin,
    version: r.version,
    actor: r.actor,
    files: r.files,
    summary: r.summary,
    createdAt: new Date(r.createdAt).toISOString(),
  }));
}
