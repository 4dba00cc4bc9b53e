import { createRoute, z } from '@hono/zod-openapi';
import { connectionInput } from '../domain/oneroster/connections.js';
import { adminErrors, json, jsonBody, problem } from './common.js';

const Counts = (keys: string[]) => z.object(Object.fromEntries(keys.map((k) => [k, z.number().int()])));

export const LineError = z
  .object({
    file: z.string().openapi({ description: 'users.csv, or GET /users for an API pull' }),
    line: z.number().int().openapi({ description: 'CSV line (1 = header); for an API pull, the record position' }),
    column: z.string().nullable(),
    message: z.string(),
  })
  .openapi('OneRosterLineError');

export const ImportReport = z
  .object({
    dryRun: z.boolean(),
    applied: z.boolean(),
    importId: z.string().uuid().nullable(),
    version: z.enum(['1.1', '1.2']).nullable(),
    files: z.record(z.string(), z.object({ mode: z.enum(['bulk', 'delta', 'absent']), rows: z.number().int() })),
    ignored: z.array(z.string()).openapi({ description: 'files in the bundle that are not imported' }),
    unknown: z.array(z.string()).openapi({ description: 'ignored files that OneRoster does not define at all' }),
    errors: z.array(LineError),
    summary: z.object({
      people: Counts(['created', 'updated', 'linked', 'deprovisioned', 'unlinked']),
      courses: Counts(['created', 'updated']),
      memberships: Counts(['added', 'updated', 'ended']),
      records: Counts(['created', 'updated', 'deleted']),
      unknownDeletes: z.number().int(),
      changes: z.number().int().openapi({ description: '0 when the import changed nothing' }),
    }),
  })
  .openapi('OneRosterImportReport');

const refused = problem(
  'The bundle was refused, nothing written: `errors` lists file, line, column and why; or not a zip',
);
const dryRunQuery = z.object({
  dryRun: z
    .enum(['true', 'false'])
    .optional()
    .openapi({ description: 'true: report what would change, write nothing' }),
});

export const uploadBundle = createRoute({
  method: 'post',
  path: '/oneroster/imports',
  summary: 'Import a OneRoster 1.1 or 1.2 CSV bundle (zip), whole or not at all',
  description:
    'The body is the zip itself (`application/zip`) or a `multipart/form-data` form with the zip in the field `bundle`. ' +
    'manifest.csv says bulk or delta per file; orgs, academicSessions, courses, classes, users, roles (1.2) and enrollments are read, ' +
    'other files are listed as ignored.',
  request: {
    query: dryRunQuery,
    body: {
      required: true,
      content: {
        'application/zip': { schema: z.string().openapi({ format: 'binary' }) },
        'multipart/form-data': { schema: z.object({ bundle: z.string().openapi({ format: 'binary' }) }) },
      },
    },
  },
  responses: {
    200: json(ImportReport, 'Applied (or, with dryRun, what would change)'),
    400: refused,
    ...adminErrors,
    413: problem('The bundle is larger than the upload limit'),
    415: problem('Not a zip or a multipart form'),
  },
});

export const listImports = createRoute({
  method: 'get',
  path: '/oneroster/imports',
  summary: 'Applied OneRoster imports, newest first',
  responses: {
    200: json(
      z.object({
        imports: z.array(
          z.object({
            id: z.string().uuid(),
            origin: z.enum(['csv', 'api']),
            version: z.string(),
            actor: z.string(),
            files: z.record(z.string(), z.unknown()),
            summary: z.record(z.string(), z.unknown()),
            createdAt: z.string().datetime(),
          }),
        ),
      }),
      'Imports',
    ),
    ...adminErrors,
  },
});

export const Connection = z
  .object({
    baseUrl: z.string(),
    tokenUrl: z.string(),
    clientId: z.string(),
    scope: z.string().nullable(),
    pageSize: z.number().int(),
    syncEveryMinutes: z.number().int().nullable(),
    secretSealed: z.boolean().openapi({ description: 'the client secret is sealed at rest (TOOL_KEY_SECRET set)' }),
    lastSyncAt: z.string().datetime().nullable(),
    lastResult: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('OneRosterConnection');

export const putConnection = createRoute({
  method: 'put',
  path: '/oneroster/connection',
  summary: "Configure the tenant's OneRoster 1.2 rostering API (OAuth 2 client credentials)",
  description:
    'baseUrl and tokenUrl must be on public addresses: a host on loopback, private or link-local addresses is ' +
    'refused (400 naming the field) unless the operator allows it, and again when a pull connects.',
  request: {
    body: jsonBody(connectionInput, 'baseUrl ends in …/ims/oneroster/rostering/v1p2; the secret is never shown again'),
  },
  responses: {
    200: json(Connection, 'Configured'),
    400: problem('Invalid input, or a URL on a private address (`field` names which)'),
    ...adminErrors,
  },
});

export const getConnection = createRoute({
  method: 'get',
  path: '/oneroster/connection',
  summary: "The tenant's OneRoster API and its last sync",
  responses: { 200: json(Connection, 'The connection'), ...adminErrors, 404: problem('None configured') },
});

export const deleteConnection = createRoute({
  method: 'delete',
  path: '/oneroster/connection',
  summary: "Forget the tenant's OneRoster API",
  responses: { 204: { description: 'Removed' }, ...adminErrors, 404: problem('None configured') },
});

export const syncConnection = createRoute({
  method: 'post',
  path: '/oneroster/connection/sync',
  summary: 'Pull the OneRoster API now and apply it as a bulk import (whole or nothing)',
  request: { query: dryRunQuery },
  responses: {
    200: json(ImportReport, 'Applied (or, with dryRun, what would change)'),
    400: refused,
    ...adminErrors,
    404: problem('None configured'),
    409: problem("The stored client secret cannot be opened with this server's sealing key: enter it again"),
    502: problem('The OneRoster API refused the credentials or answered badly, or its address is private'),
  },
});
