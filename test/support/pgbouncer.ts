import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.js';

/**
 * Debian's PgBouncer in transaction mode in front of the local PostgreSQL, as a deployment with
 * several instances runs it (docs/operations.md). As root it drops to the postgres user.
 */
export const PGBOUNCER = '/usr/sbin/pgbouncer';
export const hasPgBouncer = () => existsSync(PGBOUNCER);

export interface Bouncer {
  port: number;
  /** The same database URL, through PgBouncer. */
  via(url: string): string;
  stop(): Promise<void>;
}

export async function startPgBouncer(upstream: { host: string; port: number }): Promise<Bouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'rb-bouncer-'));
  const port = await freePort();
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.host} port=${upstream.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      'default_pool_size = 20',
      'ignore_startup_parameters = extra_float_digits,options,statement_timeout',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  const root = process.getuid?.() === 0;
  if (root) chownSync(dir, 101, 104);
  const child: ChildProcess = spawn(PGBOUNCER, [...(root ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('pgbouncer did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
