import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { inTransaction, type Store } from '../src/db/store.js';
import { insertPerson } from '../src/domain/people.js';

/**
 * What the benchmarks share: where CPU goes (each server under test in its own process, its CPU
 * read over IPC; PostgreSQL's from /proc), counting statements, and formatting.
 */

/* ------------------------------------------------------------------ PostgreSQL's CPU, from /proc */

const TICK_MS = 10; // CLK_TCK is 100 on Linux x86-64 (getconf CLK_TCK)

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, ms */
  own: number;
  /** cutime + cstime (children it has waited for), ms */
  children: number;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    if (raw.slice(raw.indexOf('(') + 1, close) !== 'postgres') return undefined;
    const f = raw.slice(close + 2).split(' ');
    return {
      pid: Number(pid),
      ppid: Number(f[1]),
      own: (Number(f[11]) + Number(f[12])) * TICK_MS,
      children: (Number(f[13]) + Number(f[14])) * TICK_MS,
    };
  } catch {
    return undefined; // gone between readdir and read
  }
}

export interface PgCpu {
  /** CPU ms so far of each live backend connected to one of the named databases, by pid. */
  backends: Map<number, { database: string; ms: number }>;
  /** CPU ms of the whole local server: every postgres process, plus backends that have exited. */
  server: number;
}

/**
 * CPU used so far by the local PostgreSQL server, from /proc: per backend of the named databases
 * (the process title names the database: "postgres: 15/main: user DB 127.0.0.1(port) state"),
 * and the whole server (all postgres processes, plus exited backends as the postmaster's
 * children's time). Per-database figures leave out the shared WAL writer, checkpointer and
 * background writer, and anything a backend did before it exited mid-round.
 */
export function pgCpu(databases: string[]): PgCpu {
  const backends = new Map<number, { database: string; ms: number }>();
  let server = 0;
  const stats: ProcStat[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const s = readStat(pid);
    if (s) stats.push(s);
  }
  const pids = new Set(stats.map((s) => s.pid));
  for (const s of stats) {
    server += s.own;
    if (!pids.has(s.ppid)) server += s.children; // the postmaster: its exited backends
    if (databases.length === 0) continue;
    let title = '';
    try {
      title = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const words = title.split(/[\s\0]+/);
    const database = databases.find((d) => words.includes(d));
    if (database) backends.set(s.pid, { database, ms: s.own });
  }
  return { backends, server };
}

/** CPU ms between two readings: per database (backends alive at the end), and the whole server. */
export function pgCpuDelta(before: PgCpu, after: PgCpu): { byDatabase: Record<string, number>; server: number } {
  const byDatabase: Record<string, number> = {};
  for (const [pid, b] of after.backends)
    byDatabase[b.database] = (byDatabase[b.database] ?? 0) + b.ms - (before.backends.get(pid)?.ms ?? 0);
  return { byDatabase, server: after.server - before.server };
}

export const databaseName = (url: string) => new URL(url).pathname.slice(1);

/* ------------------------------------------------------------------ servers in child processes */

export interface ServerStats {
  /** process.cpuUsage() of the server process (user + system), ms */
  cpuMs: number;
  /** pg Client.query calls so far (every statement sent, BEGIN/COMMIT included) */
  queries: number;
  /** what the kind reports besides (e.g. rows kept in memory) */
  extra: Record<string, number>;
}

export interface ChildServer<Info = Record<string, unknown>> {
  proc: ChildProcess;
  info: Info & { url: string };
  stats(): Promise<ServerStats>;
  /** Sends a command the server kind understands (raw-pg: run) and waits for its answer. */
  call<T>(message: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

const SERVERS = fileURLToPath(new URL('./servers.ts', import.meta.url));

/** Starts one server under test in its own Node process (bench/servers.ts) and waits until it listens. */
export function startChildServer<Info = Record<string, unknown>>(
  kind: string,
  arg: unknown,
): Promise<ChildServer<Info>> {
  const profDir = process.env.BENCH_CPU_PROF ?? process.env.LTI_BENCH_CPU_PROF;
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', SERVERS, kind, JSON.stringify(arg)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, LOG_LEVEL: 'silent' },
  });
  let seq = 0;
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  proc.on('message', (m: Record<string, unknown>) => {
    const w = waiting.get(m.id as number);
    if (w) {
      waiting.delete(m.id as number);
      w(m);
    }
  });
  const call = <T>(message: Record<string, unknown>) =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      waiting.set(id, (m) => (m.error ? reject(new Error(String(m.error))) : resolve(m as T)));
      proc.send({ ...message, id });
    });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${kind} server exited with ${code} before it was ready`));
    proc.once('exit', onExit);
    waiting.set(0, (m) => {
      proc.off('exit', onExit);
      resolve({
        proc,
        info: m.info as Info & { url: string },
        stats: () => call<ServerStats>({ type: 'stats' }),
        call,
        stop: () =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null) return done();
            proc.once('exit', () => done());
            proc.kill('SIGTERM');
          }),
      });
    });
  });
}

/* ------------------------------------------------------------------ rounds: work, CPU, statements */

export interface Cost {
  ops: number;
  toolCpuMs: number;
  pgCpuMs: number;
  queries: number;
}

export const emptyCost = (): Cost => ({ ops: 0, toolCpuMs: 0, pgCpuMs: 0, queries: 0 });

/**
 * Runs `work` and adds what it cost to `cost`: the server's CPU and statements (over IPC), and the
 * CPU of the backends of `database` (when given). `work` returns how many operations succeeded.
 */
export async function measured<R extends { ok: number }>(
  cost: Cost,
  server: ChildServer<unknown>,
  database: string | undefined,
  work: () => Promise<R>,
): Promise<R> {
  const dbs = database ? [database] : [];
  const s0 = await server.stats();
  const p0 = pgCpu(dbs);
  const r = await work();
  const p1 = pgCpu(dbs);
  const s1 = await server.stats();
  cost.ops += r.ok;
  cost.toolCpuMs += s1.cpuMs - s0.cpuMs;
  cost.queries += s1.queries - s0.queries;
  if (database) cost.pgCpuMs += pgCpuDelta(p0, p1).byDatabase[database] ?? 0;
  return r;
}

/** What a comparison benchmark keeps per system under test (lti: tools; scim: systems). */
export interface MeasuredSubject {
  name: string;
  server: ChildServer;
  /** PostgreSQL database the system uses (its backends' CPU is counted), if any. */
  database?: string;
  /** Rows the system has stored that prove an operation was done and kept (one per operation). */
  stored(): Promise<number>;
  storedWhat: string;
  cost: Cost;
  seconds: number;
  rounds: number[];
  failed: number;
  firstFailure?: string;
  verified: number;
}

export const perOp = (c: Cost, k: 'toolCpuMs' | 'pgCpuMs' | 'queries') => (c.ops ? c[k] / c.ops : Number.NaN);

/* ------------------------------------------------------------------ formatting */

export const fmt = (n: number, d = 1) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—';

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function machineLine(): string {
  return `machine: ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')} (1/5/15 min) at start`;
}

/** A plain-text table: first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`)
    .join('\n');
}

/* ------------------------------------------------------------------ seeding */

/** A JSON call on /api/v1 with an admin token. */
export type AdminApi = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

export function adminApi(url: string, token: string): AdminApi {
  return async (method, path, body) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

/**
 * The authorization benchmarks' school: `people` active people in one course (10% instructors), a
 * third with their own grants (allow grades.view, deny content.edit). Returns the course and people ids.
 */
export async function seedBenchCourse(
  store: Store,
  api: AdminApi,
  tenantId: string,
  people: number,
): Promise<{ course: string; ids: string[] }> {
  const ctx = { actor: 'bench' };
  const course = (await api('POST', '/courses', { title: 'Bench 101', externalKey: 'BENCH-101' })).body.id as string;
  const ids: string[] = [];
  await inTransaction(store, async (t) => {
    for (let i = 0; i < people; i++) {
      const p = await insertPerson(store, t, ctx, {
        tenantId,
        status: 'active',
        source: 'scim',
        userName: `bench${i}`,
        primaryEmail: `bench${i}@school.example`,
      });
      ids.push(p.id);
    }
  });
  const seeded = await api('POST', `/courses/${course}/enrolments`, {
    rows: ids.map((_id, i) => ({
      email: `bench${i}@school.example`,
      roles: [i % 10 === 0 ? 'Instructor' : 'Learner'],
      ...(i % 3 === 0 ? { allow: ['grades.view'], deny: ['content.edit'] } : {}),
    })),
  });
  if (seeded.status !== 200) throw new Error(`seeding failed: ${seeded.status} ${JSON.stringify(seeded.body)}`);
  return { course, ids };
}

/** The privileges every authorization benchmark asks about (the default catalogue). */
export const BENCH_PRIVILEGES = [
  'course.view',
  'content.edit',
  'grades.view',
  'grades.edit',
  'members.view',
  'members.manage',
  'privileges.manage',
];

/** 5,000 distinct /authorize bodies spread over the course's people and the privileges. */
export function authorizeBodies(course: string, ids: string[]): { bodies: string[]; privileges: string[] } {
  const privileges = BENCH_PRIVILEGES;
  const bodies = Array.from({ length: 5000 }, (_, i) =>
    JSON.stringify({ course, person: ids[(i * 7919) % ids.length], privilege: privileges[i % privileges.length] }),
  );
  return { bodies, privileges };
}
