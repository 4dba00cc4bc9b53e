import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendName, testDatabaseConfig } from '../support/db.js';
import { startOneRosterApi, type OneRosterApiEmulator } from '../support/oneroster-api.js';
import { sampleBundle, sampleFiles, zipBundle } from '../support/oneroster-bundle.js';
import { runCli } from '../support/processes.js';

/** `rosterbridge oneroster import | connect | sync` as an operator runs them. */
describe(`rosterbridge oneroster (${backendName})`, () => {
  let env: Record<string, string>;
  let dataDir: string;
  let cleanup: () => Promise<void>;
  let emulator: OneRosterApiEmulator;

  beforeAll(async () => {
    const db = await testDatabaseConfig();
    cleanup = db.cleanup;
    dataDir = db.config.dataDir;
    env = {
      DATA_DIR: dataDir,
      ONEROSTER_ALLOW_PRIVATE_TARGETS: 'true', // the emulator is on 127.0.0.1
      ...(db.config.databaseUrl ? { DATABASE_URL: db.config.databaseUrl } : {}),
    };
    expect((await runCli(['tenant', 'create', '--slug', 'or-cli', '--name', 'OneRoster CLI'], env)).code).toBe(0);
    emulator = await startOneRosterApi();
  }, 180_000);
  afterAll(async () => {
    await emulator?.close();
    await cleanup?.();
  });

  it('imports a bundle, says what changed and what it ignored; --dry-run first writes nothing', async () => {
    const file = join(dataDir, 'roster.zip');
    await writeFile(file, await sampleBundle('1.1'));
    const dry = await runCli(['oneroster', 'import', '--tenant', 'or-cli', file, '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/Dry run \(nothing written\): would change \d+ changes/);
    const first = await runCli(['oneroster', 'import', '--tenant', 'or-cli', file], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/people:\s+6 created/);
    expect(first.stdout).toContain('ignored:     demographics.csv');
    const again = await runCli(['oneroster', 'import', '--tenant', 'or-cli', file, '--json'], env);
    expect(JSON.parse(again.stdout).summary.changes).toBe(0);
  }, 120_000);

  it('refuses a malformed bundle with a line table and exit code 2', async () => {
    const files = sampleFiles('1.2');
    files.users.text += 'x9,,,yes,x9,,X,Nine,,,,,,,,,,,,,,school-1,\n';
    const file = join(dataDir, 'bad.zip');
    await writeFile(file, await zipBundle({ version: '1.2', files }));
    const r = await runCli(['oneroster', 'import', '--tenant', 'or-cli', file], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/users\.csv\s+8\s+enabledUser\s+"yes" is not true or false/);
    expect(r.stderr).toMatch(/refused: 1 error; nothing was written/);
  }, 60_000);

  it('connects to a OneRoster API (secret from the environment) and syncs from it', async () => {
    const connect = await runCli(
      [
        'oneroster',
        'connect',
        '--tenant',
        'or-cli',
        '--base-url',
        emulator.baseUrl,
        '--token-url',
        emulator.tokenUrl,
        '--client-id',
        emulator.clientId,
      ],
      { ...env, ONEROSTER_CLIENT_SECRET: emulator.clientSecret },
    );
    expect(connect.code).toBe(0);
    const sync = await runCli(['oneroster', 'sync', '--tenant', 'or-cli', '--json'], env);
    expect(sync.code).toBe(0);
    // The same school the bundle brought: nothing new but the API's own records
    expect(JSON.parse(sync.stdout).summary.people.created).toBe(0);
  }, 60_000);
});
