import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, spawnServer, type ServerProcess } from '../support/processes.js';

/**
 * `npm start` and the built `npm run start:prod` as an operator runs them: a signal to the npm
 * process must stop the server itself (no orphan left serving the port), after draining.
 */
const run = promisify(execFile);
const dirs: string[] = [];
let server: ServerProcess | null = null;

afterEach(async () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  server = null;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function embeddedEnv(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'rb-start-stop-'));
  dirs.push(dir);
  return { DATA_DIR: dir, LOG_LEVEL: 'info' };
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

async function stopsOn(signal: NodeJS.Signals, s: ServerProcess): Promise<void> {
  expect(await answers(s.url)).toBe(true);
  s.child.kill(signal);
  const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
  expect(code).not.toBe('still running');
  expect(await answers(s.url)).toBe(false);
  expect(s.output()).toContain('shutting down');
  expect(s.output()).toContain('"msg":"stopped"');
}

describe('starting and stopping the server', () => {
  it('stops cleanly when npm start receives SIGTERM', async () => {
    server = await spawnServer(await embeddedEnv(), 90_000, ['npm', 'start', '--silent']);
    await stopsOn('SIGTERM', server);
  }, 120_000);

  it('stops cleanly when npm start receives Ctrl-C (SIGINT)', async () => {
    server = await spawnServer(await embeddedEnv(), 90_000, ['npm', 'start', '--silent']);
    await stopsOn('SIGINT', server);
  }, 120_000);

  it('builds to plain JavaScript that npm run start:prod serves and stops', async () => {
    await run('npm', ['run', 'build', '--silent'], { cwd: ROOT });
    server = await spawnServer(await embeddedEnv(), 90_000, ['npm', 'run', 'start:prod', '--silent']);
    const docs = await fetch(`${server.url}/openapi.json`);
    expect(docs.status).toBe(200);
    await stopsOn('SIGTERM', server);
  }, 180_000);
});
