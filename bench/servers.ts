import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import * as authorize from '../src/domain/authorize.js';
import { startServer } from '../src/server.js';
import { startBetterAuthScim } from './better-auth-peer.js';
import { startLtijs, type LtijsPeerOptions } from './ltijs-peer.js';
import { startScimmyBaseline } from './scimmy-baseline.js';

/**
 * One server under test, alone in this process (started by startChildServer in support.ts):
 * `node --import tsx bench/servers.ts KIND JSON`. It answers the bench over IPC: `stats` gives
 * its CPU (process.cpuUsage) and the statements it has sent to PostgreSQL (every pg
 * Client#query call — what Sequelize, pg.Pool and Kysely all end in), `run` drives raw-pg.
 */

let queries = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  queries++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

/**
 * Our authorization cache, observed (not changed): its hit/miss counters and which tenants its
 * invalidations name ('*' for all; person-scoped ones apart), so the authorize bench can show why
 * a round missed.
 */
const authzCaches: Array<{ stats?: { hits: number; misses: number } }> = [];
const authzInvalidations = new Map<string, number>();
const Cache = (authorize as Record<string, unknown>).AuthorizationCache as
  | { prototype: Record<string, (...a: unknown[]) => unknown> }
  | undefined;
if (Cache && typeof Cache.prototype.start === 'function' && typeof Cache.prototype.invalidate === 'function') {
  const { start, invalidate } = Cache.prototype;
  Cache.prototype.start = function (this: (typeof authzCaches)[number], ...a: unknown[]) {
    authzCaches.push(this);
    return start.apply(this, a);
  };
  Cache.prototype.invalidate = function (this: unknown, tenantId: unknown, personId?: unknown, ...a: unknown[]) {
    // A drop of one person's decisions (invalidate(tenant, person)) is counted apart from a whole tenant's.
    const key = `${personId ? 'invalidate-person' : 'invalidate'}:${tenantId ?? '*'}`;
    authzInvalidations.set(key, (authzInvalidations.get(key) ?? 0) + 1);
    return invalidate.call(this, tenantId, personId, ...a);
  };
}
const authzStats = (): Record<string, number> => ({
  authzHits: authzCaches.reduce((n, c) => n + (c.stats?.hits ?? 0), 0),
  authzMisses: authzCaches.reduce((n, c) => n + (c.stats?.misses ?? 0), 0),
  ...Object.fromEntries(authzInvalidations),
});

type Handler = (message: Record<string, unknown>) => Promise<Record<string, unknown>>;

async function start(
  kind: string,
  arg: Record<string, unknown>,
): Promise<{ info: Record<string, unknown>; extra?: () => Record<string, number>; run?: Handler }> {
  switch (kind) {
    case 'ours': {
      const port = Number(arg.port ?? 0);
      const config = loadConfig({
        DATABASE_URL: String(arg.databaseUrl),
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        DATA_DIR: '/tmp/rb-bench',
        ...(port ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
        ...(arg.env as Record<string, string> | undefined),
      });
      const server = await startServer(config, pino({ level: 'silent' }), { persist: false });
      return { info: { url: server.url }, extra: authzStats };
    }
    case 'ltijs': {
      const peer = await startLtijs(arg as unknown as LtijsPeerOptions);
      return {
        info: { url: peer.url },
        extra: () => Object.fromEntries(peer.memory?.inserted ?? []),
      };
    }
    case 'better-auth': {
      const peer = await startBetterAuthScim(String(arg.databaseUrl));
      return { info: { url: peer.url, token: peer.token } };
    }
    case 'scimmy': {
      const peer = await startScimmyBaseline();
      return { info: { url: peer.url }, extra: () => ({ users: peer.size() }) };
    }
    case 'raw-pg': {
      // The floor for a durable create: single-row INSERTs into our people table, autocommit.
      const pool = new pg.Pool({ connectionString: String(arg.databaseUrl), max: Number(arg.concurrency ?? 8) });
      const run: Handler = async (m) => {
        const until = performance.now() + Number(m.seconds) * 1000;
        let ok = 0;
        let failed = 0;
        let i = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: Number(m.concurrency) }, async () => {
            while (performance.now() < until) {
              const n = i++;
              try {
                await pool.query(
                  `INSERT INTO people (tenant_id, status, source, user_name, primary_email) VALUES ($1, 'provisioned', 'scim', $2, $2)`,
                  [arg.tenantId, `${m.prefix}${n}@bench.example`],
                );
                ok++;
              } catch {
                failed++;
              }
            }
          }),
        );
        return { ok, failed, seconds: (performance.now() - started) / 1000 };
      };
      return { info: { url: 'pg' }, run };
    }
    default:
      throw new Error(`unknown server kind ${kind}`);
  }
}

/*
 * The process's own view of a round (between two `stats` calls): how late its event loop ran
 * (its own work blocking it) and how often the kernel took the CPU from it (other processes).
 */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
let preemptedBefore = process.resourceUsage().involuntaryContextSwitches;
function roundView(): Record<string, number> {
  const preempted = process.resourceUsage().involuntaryContextSwitches;
  const view = {
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    preempted: preempted - preemptedBefore,
  };
  loopDelay.reset();
  preemptedBefore = preempted;
  return view;
}

const [kind, json] = process.argv.slice(2);
const { info, extra, run } = await start(kind, JSON.parse(json ?? '{}'));
process.on('message', async (m: Record<string, unknown>) => {
  try {
    if (m.type === 'stats') {
      const u = process.cpuUsage();
      process.send!({ id: m.id, cpuMs: (u.user + u.system) / 1000, queries, extra: { ...extra?.(), ...roundView() } });
    } else if (m.type === 'run' && run) process.send!({ id: m.id, ...(await run(m)) });
    else process.send!({ id: m.id, error: `unknown message ${String(m.type)}` });
  } catch (err) {
    process.send!({ id: m.id, error: (err as Error).stack ?? String(err) });
  }
});
process.on('SIGTERM', () => process.exit(0)); // exit normally, so --cpu-prof (BENCH_CPU_PROF) is written
process.send!({ id: 0, info });
