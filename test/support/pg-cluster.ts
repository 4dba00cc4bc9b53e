import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './processes.js';

/**
 * A private PostgreSQL cluster under a temp dir, for fault tests that stop, restart or kill the
 * database without touching the shared server. PostgreSQL refuses to run as root, so as root the
 * commands run as the `postgres` user (runuser).
 */
const BIN = '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

export const canStartCluster = () => existsSync(`${BIN}/pg_ctl`);

export interface PrivateCluster {
  port: number;
  url: string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

async function as_postgres(cmd: string, args: string[]): Promise<string> {
  const root = process.getuid?.() === 0;
  const { stdout } = root
    ? await run('runuser', ['-u', 'postgres', '--', `${BIN}/${cmd}`, ...args])
    : await run(`${BIN}/${cmd}`, args);
  return stdout;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rb-pg-'));
  if (process.getuid?.() === 0) chownSync(dir, 101, 104);
  const data = join(dir, 'data');
  const port = await freePort();
  await as_postgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on`;
  const ctl = (args: string[]) => as_postgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), ...args]);
  const start = () => ctl(['-o', options, '-w', '-t', '60', 'start']).then(() => undefined);
  await start();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop: (mode = 'fast') => ctl(['-m', mode, '-w', 'stop']).then(() => undefined),
    restart: () => ctl(['-o', options, '-m', 'fast', '-w', 'restart']).then(() => undefined),
    async destroy() {
      await ctl(['-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
