import { Op } from 'sequelize';
import type { JWK } from 'jose';
import { z } from 'zod';
import { inTransaction, type ActorContext, type Store } from '../../db/store.js';
import { NotFoundError, SecretUnreadableError } from '../../errors.js';
import { recordAudit } from '../audit.js';
import { KeySealError } from '../key-sealing.js';
import { checkOutboundTarget } from '../outbound-target.js';
import { parseInput } from '../validate.js';
import { emptySummary } from './apply.js';
import { stageRows, type FileReport } from './bundle.js';
import { type ImportReport, runImport } from './import.js';
import type { LineError } from './records.js';
import { OneRosterRestClient, type RestDeps } from './rest-client.js';
import { type FileMode, IMPORTED_FILES, type ImportedFile, REQUIRED_COLUMNS } from './vocabulary.js';

/**
 * A tenant's OneRoster 1.2 rostering API, and the pull from it. A pull reads every collection we
 * import as a bulk snapshot and applies it exactly as a CSV bundle of bulk files (runImport): same
 * mapping, same checks, one transaction. The client secret is sealed at rest like the tool keys.
 * Both URLs must be on public addresses unless the operator allows private ones
 * (ONEROSTER_ALLOW_PRIVATE_TARGETS): refused when configured, and again when each pull connects.
 */
export interface OneRosterSettings {
  allowPrivateTargets: boolean;
}

const httpUrl = z
  .string()
  .url()
  .max(2000)
  .refine((u) => /^https?:\/\//i.test(u), 'an http(s) URL');

export const connectionInput = z
  .object({
    baseUrl: httpUrl.describe('the rostering service root, e.g. https://sis.example/ims/oneroster/rostering/v1p2'),
    tokenUrl: httpUrl,
    clientId: z.string().min(1).max(500),
    clientSecret: z.string().min(1).max(2000),
    scope: z.string().max(1000).nullable().optional(),
    pageSize: z.number().int().min(1).max(10_000).optional(),
    syncEveryMinutes: z
      .number()
      .int()
      .min(15)
      .max(10_080)
      .nullable()
      .optional()
      .describe('pull on a schedule, every this many minutes (15 min to a week); null: on demand only'),
  })
  .strict();
export type ConnectionInput = z.infer<typeof connectionInput>;

export interface ConnectionView {
  baseUrl: string;
  tokenUrl: string;
  clientId: string;
  scope: string | null;
  pageSize: number;
  syncEveryMinutes: number | null;
  secretSealed: boolean;
  lastSyncAt: string | null;
  lastResult: Record<string, unknown> | null;
}

const view = (r: {
  baseUrl: string;
  tokenUrl: string;
  clientId: string;
  scope: string | null;
  pageSize: number;
  syncEveryMinutes: number | null;
  clientSecret: unknown;
  lastSyncAt: Date | null;
  lastResult: Record<string, unknown> | null;
}): ConnectionView => ({
  baseUrl: r.baseUrl,
  tokenUrl: r.tokenUrl,
  clientId: r.clientId,
  scope: r.scope,
  pageSize: r.pageSize,
  syncEveryMinutes: r.syncEveryMinutes,
  secretSealed: (r.clientSecret as { sealed?: unknown })?.sealed === 'A256GCM',
  lastSyncAt: r.lastSyncAt ? new Date(r.lastSyncAt).toISOString() : null,
  lastResult: r.lastResult,
});

export async function setOneRosterConnection(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  body: unknown,
  settings: OneRosterSettings,
): Promise<ConnectionView> {
  const data = parseInput(connectionInput, body);
  await checkOutboundTarget(data.baseUrl, settings.allowPrivateTargets, 'baseUrl');
  await checkOutboundTarget(data.tokenUrl, settings.allowPrivateTargets, 'tokenUrl');
  return inTransaction(store, async (t) => {
    const { OneRosterConnection } = store.models;
    const before = await OneRosterConnection.findOne({
      where: { tenantId },
      transaction: t,
      lock: t.LOCK.UPDATE,
      raw: true,
    });
    const values = {
      baseUrl: data.baseUrl,
      tokenUrl: data.tokenUrl,
      clientId: data.clientId,
      clientSecret: store.sealer.seal({ secret: data.clientSecret } as unknown as JWK),
      scope: data.scope ?? null,
      pageSize: data.pageSize ?? 1000,
      syncEveryMinutes: data.syncEveryMinutes ?? null,
      updatedAt: new Date(),
    };
    if (before) await OneRosterConnection.update(values, { where: { tenantId }, transaction: t });
    else await OneRosterConnection.create({ tenantId, ...values }, { transaction: t });
    const row = (await OneRosterConnection.findOne({ where: { tenantId }, transaction: t, raw: true }))!;
    const after = view(row);
    // The secret is never in the audit trail; that it changed is.
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'oneroster.connection.set',
      targetType: 'tenant',
      targetId: tenantId,
      before: before ? { ...view(before), lastResult: undefined } : null,
      after: { ...after, lastResult: undefined, secretChanged: true },
    });
    return after;
  });
}

export async function getOneRosterConnection(store: Store, tenantId: string): Promise<ConnectionView> {
  const row = await store.models.OneRosterConnection.findOne({ where: { tenantId }, raw: true });
  if (!row) throw new NotFoundError('This tenant has no OneRoster API configured');
  return view(row);
}

export async function deleteOneRosterConnection(store: Store, ctx: ActorContext, tenantId: string): Promise<void> {
  await inTransaction(store, async (t) => {
    const n = await store.models.OneRosterConnection.destroy({ where: { tenantId }, transaction: t });
    if (!n) throw new NotFoundError('This tenant has no OneRoster API configured');
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'oneroster.connection.delete',
      targetType: 'tenant',
      targetId: tenantId,
    });
  });
}

/** REST collection per file we import; users carry their roles inline in 1.2. */
const COLLECTION: Partial<Record<ImportedFile, string>> = {
  orgs: 'orgs',
  academicSessions: 'academicSessions',
  courses: 'courses',
  classes: 'classes',
  users: 'users',
  enrollments: 'enrollments',
};

const ref = (v: unknown): string => {
  if (v && typeof v === 'object') return String((v as { sourcedId?: unknown }).sourcedId ?? '');
  return v === undefined || v === null ? '' : String(v);
};
const refs = (v: unknown): string => (Array.isArray(v) ? v.map(ref).filter(Boolean).join(',') : ref(v));
const str = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v).trim();

/** A REST record → the fields the CSV binding names (userIds as `{type:identifier}`, references by sourcedId). */
function fieldsOf(file: ImportedFile, r: Record<string, unknown>): Record<string, string> {
  const base = { sourcedId: str(r.sourcedId), status: str(r.status) };
  switch (file) {
    case 'orgs':
      return {
        ...base,
        name: str(r.name),
        type: str(r.type),
        identifier: str(r.identifier),
        parentSourcedId: ref(r.parent),
      };
    case 'academicSessions':
      return {
        ...base,
        title: str(r.title),
        type: str(r.type),
        startDate: str(r.startDate),
        endDate: str(r.endDate),
        schoolYear: str(r.schoolYear),
        parentSourcedId: ref(r.parent),
      };
    case 'courses':
      return {
        ...base,
        title: str(r.title),
        courseCode: str(r.courseCode),
        orgSourcedId: ref(r.org),
        schoolYearSourcedId: ref(r.schoolYear),
      };
    case 'classes':
      return {
        ...base,
        title: str(r.title),
        classCode: str(r.classCode),
        classType: str(r.classType),
        courseSourcedId: ref(r.course),
        schoolSourcedId: ref(r.school),
        termSourcedIds: refs(r.terms),
      };
    case 'users': {
      const ids = Array.isArray(r.userIds)
        ? r.userIds
            .map((u) => (u && typeof u === 'object' ? u : {}) as { type?: unknown; identifier?: unknown })
            .map((u) => `{${str(u.type).replace(/[{}:]/g, '')}:${str(u.identifier).replace(/[{}]/g, '')}}`)
            .join(',')
        : '';
      return {
        ...base,
        enabledUser: str(r.enabledUser),
        username: str(r.username),
        userIds: ids,
        givenName: str(r.givenName),
        familyName: str(r.familyName),
        email: str(r.email),
      };
    }
    case 'enrollments':
      return {
        ...base,
        classSourcedId: ref(r.class),
        userSourcedId: ref(r.user),
        schoolSourcedId: ref(r.school),
        role: str(r.role),
        primary: str(r.primary),
      };
    default:
      return base;
  }
}

/** One collection as header + rows, so stageRows reads it as it reads a CSV file; "line" = the record's position. */
async function* restRows(
  client: OneRosterRestClient,
  file: ImportedFile,
  rolesByUser: Map<string, string[]>,
): AsyncGenerator<{ cells: string[]; line: number }> {
  let header: string[] | null = null;
  let n = 0;
  for await (const page of client.collection(COLLECTION[file]!)) {
    for (const record of page) {
      const fields = fieldsOf(file, record);
      if (!header) {
        header = [...new Set([...Object.keys(fields), ...REQUIRED_COLUMNS['1.2'][file]])];
        yield { cells: header, line: 0 };
      }
      if (file === 'users' && Array.isArray(record.roles)) {
        const roles = record.roles
          .map((x) => (x && typeof x === 'object' ? str((x as { role?: unknown }).role) : ''))
          .filter(Boolean);
        rolesByUser.set(fields.sourcedId, roles);
      }
      yield { cells: header.map((h) => fields[h] ?? ''), line: ++n };
    }
  }
  if (!header) yield { cells: [...REQUIRED_COLUMNS['1.2'][file]], line: 0 };
}

/** The stored client secret, or in the admin's words why it cannot be opened and what to do. */
function openClientSecret(store: Store, stored: unknown): string {
  try {
    return (store.sealer.open(stored) as unknown as { secret: string }).secret;
  } catch (err) {
    if (!(err instanceof KeySealError)) throw err;
    throw new SecretUnreadableError(
      "The stored OneRoster client secret cannot be opened with this server's sealing key (it was changed or lost); enter the client secret again",
      { cause: err },
    );
  }
}

/**
 * Pulls the tenant's OneRoster API and applies it as one bulk import (whole or nothing). A plain
 * function of (store, deps, tenant), so a job queue or a schedule can run it as the API and CLI do.
 * The outcome (applied or refused, and its summary) is kept on the connection.
 */
export async function syncOneRosterApi(
  store: Store,
  deps: RestDeps & OneRosterSettings & { actor?: ActorContext; dryRun?: boolean },
  tenantId: string,
): Promise<ImportReport> {
  const row = await store.models.OneRosterConnection.findOne({ where: { tenantId }, raw: true });
  if (!row) throw new NotFoundError('This tenant has no OneRoster API configured');
  const actor = deps.actor ?? { actor: 'oneroster-sync' };
  const dryRun = Boolean(deps.dryRun);
  const errors: LineError[] = [];
  const modes = Object.fromEntries(IMPORTED_FILES.map((f) => [f, f === 'roles' ? 'absent' : 'bulk'])) as Record<
    ImportedFile,
    FileMode
  >;
  const report: ImportReport = {
    dryRun,
    applied: false,
    importId: null,
    version: '1.2',
    files: {},
    ignored: [],
    unknown: [],
    errors,
    summary: emptySummary(),
  };
  const started = new Date();
  let failure: string | null = null;
  try {
    // Opened inside the try: a secret this server cannot open is recorded as the pull's failure.
    const client = new OneRosterRestClient(
      {
        baseUrl: row.baseUrl,
        tokenUrl: row.tokenUrl,
        clientId: row.clientId,
        clientSecret: openClientSecret(store, row.clientSecret),
        scope: row.scope,
        pageSize: row.pageSize,
      },
      deps,
    );
    await runImport(
      store,
      actor,
      tenantId,
      { origin: 'api', version: '1.2', modes, dryRun },
      report,
      async (stager) => {
        const files: Record<string, FileReport> = {};
        const rolesByUser = new Map<string, string[]>();
        for (const file of IMPORTED_FILES) {
          if (modes[file] === 'absent') continue;
          const fileReport: FileReport = { mode: 'bulk', rows: 0 };
          files[`GET /${COLLECTION[file]}`] = fileReport;
          await stageRows(
            restRows(client, file, rolesByUser),
            file,
            '1.2',
            stager,
            errors,
            fileReport,
            rolesByUser,
            `GET /${COLLECTION[file]}`,
          );
        }
        await stager.flushAll();
        return files;
      },
    );
  } catch (err) {
    failure = (err as Error).message;
    throw err;
  } finally {
    if (!dryRun)
      await store.models.OneRosterConnection.update(
        {
          lastSyncAt: started,
          lastResult: {
            applied: report.applied,
            failure,
            importId: report.importId,
            errorCount: errors.length,
            errors: errors.slice(0, 20),
            summary: report.summary,
          },
        },
        { where: { tenantId } },
      );
  }
  return report;
}

/** The tenants whose scheduled OneRoster pull is due (never pulled, or the interval has passed). */
export async function dueOneRosterPulls(store: Store, now = new Date()): Promise<string[]> {
  const rows = await store.models.OneRosterConnection.findAll({
    attributes: ['tenantId', 'syncEveryMinutes', 'lastSyncAt'],
    where: { syncEveryMinutes: { [Op.ne]: null } },
    raw: true,
  });
  return rows
    .filter(
      (r) =>
        !r.lastSyncAt || now.getTime() - new Date(r.lastSyncAt).getTime() >= (r.syncEveryMinutes as number) * 60_000,
    )
    .map((r) => r.tenantId);
}
