import { resolve } from 'node:path';
import { z } from 'zod';

/** A 32-byte secret given in base64 (`openssl rand -base64 32`). */
const secret32 = (name: string) =>
  z.string().refine((v) => Buffer.from(v, 'base64').length === 32, `${name} must be 32 bytes in base64`);

/**
 * LMS roster syncs (LTI NRPS) as they run unless configured otherwise. The one place these numbers
 * live: the schema below takes them as its defaults, and roster-sync-runner.ts and lti/nrps.ts fall
 * back to them when a caller (a test) passes no setting.
 */
export const ROSTER_SYNC_DEFAULTS = {
  concurrency: 2,
  launchDebounceMs: 10 * 60 * 1000,
  scheduleTickMs: 60_000,
  fullSyncEveryMs: 24 * 3600 * 1000,
  nrps: {
    timeoutMs: 15_000,
    maxAttempts: 5,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    maxPages: 1000,
    maxMembers: 100_000,
    maxPageBytes: 20 * 1024 * 1024,
  },
} as const;
const RS = ROSTER_SYNC_DEFAULTS;

/** Configuration is read from the environment once, validated, and passed down explicitly. */
const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_LISTEN_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    .optional(),
  SCIM_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(6000),
  SCIM_RATE_LIMIT_STORE: z.enum(['database', 'memory']).default('database'),
  SCIM_BULK_MAX_OPERATIONS: z.coerce.number().int().positive().default(1000),
  SCIM_BULK_MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  SCIM_FILTER_MAX_COMPLEXITY: z.coerce.number().int().positive().default(50),
  SCIM_SEARCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  SCIM_MAX_STRING_BYTES: z.coerce.number().int().positive().default(1024),
  SCIM_MAX_RESOURCE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(5000),
  AUTHZ_CACHE_TTL_MS: z.coerce.number().int().min(0).default(30_000),
  INVITATION_TTL_HOURS: z.coerce
    .number()
    .positive()
    .default(14 * 24),
  MAIL_FROM: z.string().min(3).optional(),
  BULK_ENROLMENT_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  OPERATOR_TOKEN_SHA256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the SHA-256 of the operator token in hex (64 digits), never the token itself')
    .optional(),
  TOOL_KEY_SECRET: secret32('TOOL_KEY_SECRET').optional(),
  TOOL_KEY_SECRET_PREVIOUS: z
    .string()
    .optional()
    .refine(
      (v) => v === undefined || v.split(',').every((p) => Buffer.from(p.trim(), 'base64').length === 32),
      'must be comma-separated base64 secrets of 32 bytes each',
    ),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'must be comma-separated seconds, e.g. 5,300,1800')
    .default('5,300,1800,7200,18000,36000,36000'),
  ONEROSTER_ALLOW_PRIVATE_TARGETS: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  JOBS_POLL_INTERVAL_MS: z.coerce.number().int().min(500).default(2000),
  ROSTER_SYNC_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(RS.concurrency),
  ROSTER_SYNC_LAUNCH_DEBOUNCE_MS: z.coerce.number().int().min(0).default(RS.launchDebounceMs),
  ROSTER_SYNC_SCHEDULE_TICK_MS: z.coerce.number().int().min(1000).default(RS.scheduleTickMs),
  ROSTER_SYNC_FULL_EVERY_HOURS: z.coerce
    .number()
    .positive()
    .default(RS.fullSyncEveryMs / 3600_000),
  ROSTER_SYNC_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(RS.nrps.timeoutMs),
  ROSTER_SYNC_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(RS.nrps.maxAttempts),
  ROSTER_SYNC_RETRY_BASE_DELAY_MS: z.coerce.number().int().min(0).default(RS.nrps.baseDelayMs),
  ROSTER_SYNC_RETRY_MAX_DELAY_MS: z.coerce.number().int().min(0).default(RS.nrps.maxDelayMs),
  ROSTER_SYNC_MAX_PAGES: z.coerce.number().int().positive().default(RS.nrps.maxPages),
  ROSTER_SYNC_MAX_MEMBERS: z.coerce.number().int().positive().default(RS.nrps.maxMembers),
  ROSTER_SYNC_MAX_PAGE_BYTES: z.coerce.number().int().positive().default(RS.nrps.maxPageBytes),
  DEMO_LMS: z
    .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** A direct connection for LISTEN (cache invalidation), when DATABASE_URL goes through PgBouncer in transaction mode. */
  databaseListenUrl: string | undefined;
  dataDir: string;
  publicUrl: string;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  smtpUrl: string | undefined;
  /** PostgreSQL statement_timeout for the server's queries (0: none); PGlite does not enforce it. */
  statementTimeoutMs: number;
  scim: {
    rateLimitPerMinute: number;
    /** Where token budgets are kept: `database` (shared by every instance) or `memory` (this process). */
    rateLimitStore: 'database' | 'memory';
    bulkMaxOperations: number;
    bulkMaxPayloadBytes: number;
    /** Work per request (scim/limits.ts): filter clauses, /.search body, string and resource sizes. */
    limits: { filterMaxComplexity: number; searchMaxBytes: number; maxStringBytes: number; maxResourceBytes: number };
  };
  /** Privileges API: authorization cache entry lifetime (a backstop; writes invalidate), invitations, mail, bulk body size. */
  privileges: { authzCacheTtlMs: number; invitationTtlMs: number; mailFrom: string; bulkMaxBytes: number };
  /** SHA-256 (hex, lower case) of the operator token that may act across tenants; unset = no operator API. */
  operatorTokenSha256: string | undefined;
  /** Secrets that seal the tool's private keys at rest: the current one first, then previous ones (rotation). */
  toolKeySecrets: Buffer[];
  /** Outgoing webhooks (src/domain/webhooks.ts). */
  webhooks: {
    /** Allow endpoints on loopback, private and link-local addresses (tests, closed networks). */
    allowPrivateTargets: boolean;
    timeoutMs: number;
    /** Seconds to wait before each retry after a failed attempt; after the last one the delivery is dead-lettered. */
    retryScheduleSeconds: number[];
  };
  /** The tenants' OneRoster 1.2 APIs (src/domain/oneroster/connections.ts). */
  oneroster: {
    /**
     * Allow base and token URLs on loopback, private and link-local addresses (tests, an SIS on
     * the school's own network); apart from webhooks', which go to other parties' systems.
     */
    allowPrivateTargets: boolean;
  };
  /** The job queue (src/jobs/queue.ts): how often an idle worker looks for work. */
  jobs: { pollIntervalMs: number };
  /** LMS roster syncs (src/domain/roster-sync-runner.ts), and how each reads its roster (lti/nrps.ts). */
  rosterSync: {
    /** Syncs running at once in one process (in process, or as job queue workers). */
    concurrency: number;
    /** An instructor's launch starts a sync of its course at most this often. */
    launchDebounceMs: number;
    /** How often the tenants' roster schedules are checked. */
    scheduleTickMs: number;
    /** A full read at least this often, even when the platform gave a differences link. */
    fullSyncEveryMs: number;
    nrps: {
      /** One request to the platform. */
      timeoutMs: number;
      /** Attempts per request (retries with exponential backoff) before the sync fails. */
      maxAttempts: number;
      /** The first backoff, doubled on each retry (with jitter). */
      baseDelayMs: number;
      /** No single wait is longer, Retry-After included. */
      maxDelayMs: number;
      /** Pages followed before the roster is refused as runaway. */
      maxPages: number;
      /** Members accepted in one roster. */
      maxMembers: number;
      /** A page body larger than this is refused. */
      maxPageBytes: number;
    };
  };
  /** Serve the stand-in LMS of `rosterbridge dev seed` under /dev/lms (demos only). */
  demoLms: boolean;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Empty strings count as unset, as a blank line in a .env or compose file means "not set". */
function withoutBlanks(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') out[key] = value.trim();
  }
  return out;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(withoutBlanks(env));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.ROSTER_SYNC_RETRY_MAX_DELAY_MS < e.ROSTER_SYNC_RETRY_BASE_DELAY_MS)
    throw new ConfigError([
      `ROSTER_SYNC_RETRY_MAX_DELAY_MS: must be at least ROSTER_SYNC_RETRY_BASE_DELAY_MS (${e.ROSTER_SYNC_RETRY_BASE_DELAY_MS})`,
    ]);
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databaseListenUrl: e.DATABASE_URL ? (e.DATABASE_LISTEN_URL ?? e.DATABASE_URL) : undefined,
    dataDir: resolve(e.DATA_DIR),
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    smtpUrl: e.SMTP_URL,
    statementTimeoutMs: e.STATEMENT_TIMEOUT_MS,
    scim: {
      rateLimitPerMinute: e.SCIM_RATE_LIMIT_PER_MINUTE,
      rateLimitStore: e.SCIM_RATE_LIMIT_STORE,
      bulkMaxOperations: e.SCIM_BULK_MAX_OPERATIONS,
      bulkMaxPayloadBytes: e.SCIM_BULK_MAX_PAYLOAD_BYTES,
      limits: {
        filterMaxComplexity: e.SCIM_FILTER_MAX_COMPLEXITY,
        searchMaxBytes: e.SCIM_SEARCH_MAX_BYTES,
        maxStringBytes: e.SCIM_MAX_STRING_BYTES,
        maxResourceBytes: e.SCIM_MAX_RESOURCE_BYTES,
      },
    },
    privileges: {
      authzCacheTtlMs: e.AUTHZ_CACHE_TTL_MS,
      invitationTtlMs: Math.round(e.INVITATION_TTL_HOURS * 3600 * 1000),
      mailFrom: e.MAIL_FROM ?? `Rosterbridge <no-reply@${new URL(e.PUBLIC_URL ?? 'http://localhost').hostname}>`,
      bulkMaxBytes: e.BULK_ENROLMENT_MAX_BYTES,
    },
    operatorTokenSha256: e.OPERATOR_TOKEN_SHA256?.toLowerCase(),
    toolKeySecrets: [
      ...(e.TOOL_KEY_SECRET ? [e.TOOL_KEY_SECRET] : []),
      ...(e.TOOL_KEY_SECRET_PREVIOUS?.split(',').map((p) => p.trim()) ?? []),
    ].map((b) => Buffer.from(b, 'base64')),
    webhooks: {
      allowPrivateTargets: e.WEBHOOK_ALLOW_PRIVATE_TARGETS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryScheduleSeconds: e.WEBHOOK_RETRY_SCHEDULE.split(',').map(Number),
    },
    oneroster: { allowPrivateTargets: e.ONEROSTER_ALLOW_PRIVATE_TARGETS },
    jobs: { pollIntervalMs: e.JOBS_POLL_INTERVAL_MS },
    rosterSync: {
      concurrency: e.ROSTER_SYNC_CONCURRENCY,
      launchDebounceMs: e.ROSTER_SYNC_LAUNCH_DEBOUNCE_MS,
      scheduleTickMs: e.ROSTER_SYNC_SCHEDULE_TICK_MS,
      fullSyncEveryMs: Math.round(e.ROSTER_SYNC_FULL_EVERY_HOURS * 3600 * 1000),
      nrps: {
        timeoutMs: e.ROSTER_SYNC_REQUEST_TIMEOUT_MS,
        maxAttempts: e.ROSTER_SYNC_MAX_ATTEMPTS,
        baseDelayMs: e.ROSTER_SYNC_RETRY_BASE_DELAY_MS,
        maxDelayMs: e.ROSTER_SYNC_RETRY_MAX_DELAY_MS,
        maxPages: e.ROSTER_SYNC_MAX_PAGES,
        maxMembers: e.ROSTER_SYNC_MAX_MEMBERS,
        maxPageBytes: e.ROSTER_SYNC_MAX_PAGE_BYTES,
      },
    },
    demoLms: e.DEMO_LMS,
  };
}
