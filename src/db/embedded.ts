import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The embedded database: PGlite (PostgreSQL compiled to WASM) owned by exactly one process, which
 * also serves PGlite's wire protocol on a Unix socket inside DATA_DIR so that `pg` (and therefore
 * Sequelize) and the CLI reach it like any PostgreSQL server. A lock file keeps a second owner out.
 */
export const SOCKET_PORT = 5432;
const LOCK_FILE = 'rosterbridge.lock';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`DATA_DIR ${dataDir} is in use by process ${pid}; stop it or point DATA_DIR elsewhere`);
    this.name = 'DataDirLockedError';
  }
}

export function socketPath(dir: string): string {
  return join(dir, `.s.PGSQL.${SOCKET_PORT}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid that owns dataDir, or null when nobody does (a lock left by a dead process is stale). */
export async function lockOwner(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(dataDir, LOCK_FILE), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

async function acquireLock(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await lockOwner(dataDir);
      if (owner !== null) throw new DataDirLockedError(dataDir, owner);
      await rm(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

export interface EmbeddedDatabase {
  /** Directory holding the socket; pass as `host` to pg with port SOCKET_PORT. */
  socketDir: string;
  close(): Promise<void>;
}

/**
 * Opens PGlite on `${dir}/pgdata` (or in memory when `persist` is false, as tests do) and serves
 * it on `${dir}/.s.PGSQL.5432`.
 */
export async function openEmbedded(dir: string, options: { persist?: boolean } = {}): Promise<EmbeddedDatabase> {
  await mkdir(dir, { recursive: true });
  const release = await acquireLock(dir);
  try {
    const db = options.persist === false ? await PGlite.create() : await PGlite.create(join(dir, 'pgdata'));
    const path = socketPath(dir);
    await rm(path, { force: true });
    // Several connections are multiplexed onto PGlite's single session: the server's pool uses one,
    // a CLI talking to the running server uses another.
    const server = new PGLiteSocketServer({ db, path, maxConnections: 8 });
    await server.start();
    let closed = false;
    return {
      socketDir: dir,
      async close() {
        if (closed) return;
        closed = true;
        await server.stop();
        await db.close();
        await rm(path, { force: true });
        await release();
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}

export async function socketExists(dir: string): Promise<boolean> {
  try {
    return (await stat(socketPath(dir))).isSocket();
  } catch {
    return false;
  }
}
