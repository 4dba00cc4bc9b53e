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
