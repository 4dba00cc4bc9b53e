import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('has working defaults: port 3000, embedded database in ./data, info logs', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.publicUrl).toBe('http://localhost:3000');
    expect(c.logLevel).toBe('info');
  });

  it('reads every documented variable', () => {
    const c = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u@db:5432/rb',
      DATA_DIR: '/var/lib/rb',
      PUBLIC_URL: 'https://rb.school.example/',
      LOG_LEVEL: 'warn',
    });
    expect(c).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u@db:5432/rb',
      dataDir: '/var/lib/rb',
      publicUrl: 'https://rb.school.example',
      logLevel: 'warn',
    });
  });

  it('keeps only the hash of the operator token, and the demo LMS off unless asked for', () => {
    const hash = 'AB'.repeat(32);
    expect(loadConfig({ OPERATOR_TOKEN_SHA256: hash }).operatorTokenSha256).toBe('ab'.repeat(32));
    expect(loadConfig({}).operatorTokenSha256).toBeUndefined();
    expect(loadConfig({}).demoLms).toBe(false);
    expect(loadConfig({ DEMO_LMS: 'true' }).demoLms).toBe(true);
  });

  it('bounds work per request by default and reads the bounds (issue #11)', () => {
    const d = loadConfig({});
    expect(d.statementTimeoutMs).toBe(5000);
    expect(d.scim.limits).toEqual({
      filterMaxComplexity: 50,
      searchMaxBytes: 65536,
      maxStringBytes: 1024,
      maxResourceBytes: 65536,
    });
    const c = loadConfig({
      STATEMENT_TIMEOUT_MS: '0',
      SCIM_FILTER_MAX_COMPLEXITY: '10',
      SCIM_SEARCH_MAX_BYTES: '2048',
      SCIM_MAX_STRING_BYTES: '256',
      SCIM_MAX_RESOURCE_BYTES: '4096',
    });
    expect(c.statementTimeoutMs).toBe(0);
    expect(c.scim.limits).toEqual({
      filterMaxComplexity: 10,
      searchMaxBytes: 2048,
      maxStringBytes: 256,
      maxResourceBytes: 4096,
    });
  });

  it('runs LMS roster syncs as before unless told otherwise, and reads each setting', () => {
    expect(loadConfig({}).rosterSync).toEqual({
      concurrency: 2,
      launchDebounceMs: 600_000,
      scheduleTickMs: 60_000,
      fullSyncEveryMs: 86_400_000,
      nrps: {
        timeoutMs: 15_000,
        maxAttempts: 5,
        baseDelayMs: 1000,
        maxDelayMs: 60_000,
        maxPages: 1000,
        maxMembers: 100_000,
        maxPageBytes: 20 * 1024 * 1024,
      },
    });
    const c = loadConfig({
      ROSTER_SYNC_CONCURRENCY: '4',
      ROSTER_SYNC_LAUNCH_DEBOUNCE_MS: '0',
      ROSTER_SYNC_SCHEDULE_TICK_MS: '30000',
      ROSTER_SYNC_FULL_EVERY_HOURS: '6',
      ROSTER_SYNC_REQUEST_TIMEOUT_MS: '30000',
      ROSTER_SYNC_MAX_ATTEMPTS: '8',
      ROSTER_SYNC_RETRY_BASE_DELAY_MS: '500',
      ROSTER_SYNC_RETRY_MAX_DELAY_MS: '120000',
      ROSTER_SYNC_MAX_PAGES: '5000',
      ROSTER_SYNC_MAX_MEMBERS: '250000',
      ROSTER_SYNC_MAX_PAGE_BYTES: '1048576',
    });
    expect(c.rosterSync).toEqual({
      concurrency: 4,
      launchDebounceMs: 0,
      scheduleTickMs: 30_000,
      fullSyncEveryMs: 6 * 3600 * 1000,
      nrps: {
        timeoutMs: 30_000,
        maxAttempts: 8,
        baseDelayMs: 500,
        maxDelayMs: 120_000,
        maxPages: 5000,
        maxMembers: 250_000,
        maxPageBytes: 1_048_576,
      },
    });
  });

  it('refuses a roster retry cap below its first backoff, naming both', () => {
    expect(() =>
      loadConfig({ ROSTER_SYNC_RETRY_BASE_DELAY_MS: '5000', ROSTER_SYNC_RETRY_MAX_DELAY_MS: '1000' }),
    ).toThrow(/ROSTER_SYNC_RETRY_MAX_DELAY_MS: must be at least ROSTER_SYNC_RETRY_BASE_DELAY_MS/);
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '  ' }).port).toBe(3000);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['PUBLIC_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['BODY_LIMIT_BYTES', '-1'],
    ['OPERATOR_TOKEN_SHA256', 'op_the-secret-itself'],
    ['DEMO_LMS', 'yes please'],
    ['TOOL_KEY_SECRET', 'c2hvcnQ='],
    ['TOOL_KEY_SECRET_PREVIOUS', 'c2hvcnQ='],
    ['STATEMENT_TIMEOUT_MS', '-5'],
    ['SCIM_FILTER_MAX_COMPLEXITY', '0'],
    ['SCIM_SEARCH_MAX_BYTES', 'big'],
    ['SCIM_MAX_STRING_BYTES', '1.5'],
    ['SCIM_MAX_RESOURCE_BYTES', '0'],
    ['ROSTER_SYNC_CONCURRENCY', '0'],
    ['ROSTER_SYNC_LAUNCH_DEBOUNCE_MS', '-1'],
    ['ROSTER_SYNC_SCHEDULE_TICK_MS', '10'],
    ['ROSTER_SYNC_FULL_EVERY_HOURS', '0'],
    ['ROSTER_SYNC_REQUEST_TIMEOUT_MS', 'soon'],
    ['ROSTER_SYNC_MAX_ATTEMPTS', '0'],
    ['ROSTER_SYNC_RETRY_BASE_DELAY_MS', '1.5'],
    ['ROSTER_SYNC_RETRY_MAX_DELAY_MS', '-1'],
    ['ROSTER_SYNC_MAX_PAGES', '0'],
    ['ROSTER_SYNC_MAX_MEMBERS', 'lots'],
    ['ROSTER_SYNC_MAX_PAGE_BYTES', '0'],
  ])('rejects a bad %s and names the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(name);
  });
});
