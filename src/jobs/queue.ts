import { createRequire } from 'node:module';
import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Sequelize, Transaction } from 'sequelize';
import type { Store } from '../db/store.js';

/**
 * The one job queue (docs/decisions/0007-job-queue.md): pg-boss on the service's own database,
 * in the `pgboss` schema. pg-boss talks through the service's Sequelize connections (a pg-boss
 * `db` adapter), so the same queue runs on PostgreSQL and on the embedded PGlite — whose single
 * session must never see two interleaved transactions — and a job can be added inside the
 * transaction of the change that causes it (it is committed or rolled back with that change).
 */
export interface JobOptions {
  /** Not before this time. */
  runAt?: Date;
  /**
   * At most one queued job per key on tasks registered with `policy: 'stately'` (a second add
   * while one waits is a no-op); on other tasks it is only a label.
   */
  jobKey?: string;
  /** Runs in all, counting the first (a failed or expired run is retried). Default: the task's. */
  maxAttempts?: number;
  /** Added with this transaction: it exists exactly when the transaction commits. */
  transaction?: Transaction;
}

export interface TaskOptions {
  /** Handlers of this task running at once in this process. Default 1. */
  concurrency?: number;
  /** Runs in all, counting the first. Default 5. */
  maxAttempts?: number;
  /** Seconds before the first retry; doubled on each (exponential backoff). Default 10. */
  retryDelaySeconds?: number;
  /** A run that takes longer is failed (and retried). Default 15 minutes. */
  timeoutSeconds?: number;
  /** 'stately': at most one queued and one running job per jobKey (drains, syncs); default 'standard'. */
  policy?: 'standard' | 'stately';
}

export interface JobContext {
  id: string;
  name: string;
  /** 1 on the first run. */
  attempt: number;
}

export type TaskHandler<P> = (payload: P, job: JobContext) => Promise<void>;

export const JOB_SCHEMA = 'pgboss';

/** What the pool-backed adapter must know of its queue: whether it has stopped, its SQL in flight, its log. */
interface AdapterState {
  closed: boolean;
  inFlight: Set<Promise<unknown>>;
  logger?: Logger;
}

/**
 * The statements pg-boss's workers send to record a job's outcome. pg-boss sends them without
 * awaiting (manager.js: `this.complete(...)` after the handler), so if the database is away at that
 * moment their rejection would be unhandled and end the process. Only these are caught; the job
 * stays active and is retried when its lease expires, as after a crash.
 */
const plans = createRequire(import.meta.url)('pg-boss/src/plans.js') as Record<string, (schema: string) => string>;
const OUTCOME_SQL = new Set([plans.completeJobs(JOB_SCHEMA), plans.failJobsById(JOB_SCHEMA)]);

/** The adapter pg-boss runs its SQL through: a transaction's connection, or one borrowed from the pool. */

function sqlThrough(sequelize: Sequelize, t?: Transaction, state?: AdapterState): PgBoss.Db {
  type Client = { query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> };
  type Manager = { getConnection(o: { type: string }): Promise<Client>; releaseConnection(c: Client): void };
  if (t) {
    const client = (t as unknown as { connection: Client }).connection;
    return { executeSql: async (text, values) => (await client.query(text, values)) as { rows: [] } };
  }
  const manager = (sequelize as unknown as { connectionManager: Manager }).connectionManager;
  const run = async (text: string, values?: unknown[]) => {
    const client = await manager.getConnection({ type: 'write' });
    try {
      return (await client.query(text, values)) as { rows: [] };
    } finally {
      manager.releaseConnection(client);
    }
  };
  return {
    executeSql(text, values) {
      // pg-boss records a job's outcome without awaiting it, so stop() waits for the SQL in flight;
      // anything a straggler sends after that is skipped (no rows: pg-boss reads "nothing affected")
      // rather than reaching a closed pool. Such a job stays active and is retried when its lease
      // expires, as a killed process's would be.
      if (state?.closed) return Promise.resolve({} as { rows: [] });
      let p = run(text, values);
      if (OUTCOME_SQL.has(text))
        p = p.catch((err) => {
          state?.logger?.warn({ err }, 'job outcome not recorded; the job is retried when its lease expires');
          return {} as { rows: [] };
        });
      state?.inFlight.add(p);
      void p.then(
        () => state?.inFlight.delete(p),
        () => state?.inFlight.delete(p),
      );
      return p;
    },
  };
}

const running = new WeakMap<Sequelize, JobQueue>();

/** The queue this process runs on a store's database, or null (a CLI process runs none). */
export function jobQueueOf(store: Pick<Store, 'sequelize'>): JobQueue | null {
  return running.get(store.sequelize) ?? null;
}

export class JobQueue {
  private readonly boss: PgBoss;
  private readonly tasks = new Map<string, TaskOptions>();
  private readonly workers = new Map<string, string[]>();
  private stopped = false;
  /** Its SQL in flight, and once stopped, that later SQL is skipped (see sqlThrough). */
  private readonly adapter: AdapterState;

  private constructor(
    private readonly sequelize: Sequelize,
    private readonly options: { logger?: Logger; pollIntervalMs: number },
  ) {
    this.adapter = { closed: false, inFlight: new Set(), logger: options.logger };
    this.boss = new PgBoss({
      db: sqlThrough(sequelize, undefined, this.adapter),
      schema: JOB_SCHEMA,
      // Cron schedules are checked every 30 s; finished jobs are kept a week for inspection.
      cronMonitorIntervalSeconds: 30,
      deleteAfterDays: 7,
    });
    this.boss.on('error', (err) => this.options.logger?.warn({ err }, 'job queue error'));
  }

  /** Installs or migrates the `pgboss` schema (under pg-boss's advisory lock) and starts supervising. */
  static async start(store: Pick<Store, 'sequelize'>, options: { logger?: Logger; pollIntervalMs: number }) {
    const queue = new JobQueue(store.sequelize, options);
    await queue.boss.start();
    running.set(store.sequelize, queue);
    return queue;
  }

  /** Creates the task's queue (idempotent) and starts working it in this process. */
  async registerTask<P extends object>(name: string, handler: TaskHandler<P>, options: TaskOptions = {}) {
    const o = { concurrency: 1, maxAttempts: 5, retryDelaySeconds: 10, timeoutSeconds: 900, ...options };
    this.tasks.set(name, o);
    const queue = {
      name,
      policy: o.policy ?? 'standard',
      retryLimit: o.maxAttempts - 1,
      retryDelay: o.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: o.timeoutSeconds,
    };
    if (await this.boss.getQueue(name)) await this.boss.updateQueue(name, queue);
    else await this.boss.createQueue(name, queue);
    const run = async ([job]: PgBoss.JobWithMetadata<P>[]) => {
      await handler(job.data, { id: job.id, name, attempt: job.retryCount + 1 });
    };
    const workers: string[] = [];
    // pg-boss runs one fetch loop per work() call: one per unit of concurrency.
    for (let i = 0; i < o.concurrency; i++)
      workers.push(
        await this.boss.work<P>(
          name,
          { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.options.pollIntervalMs / 1000 },
          run,
        ),
      );
    this.workers.set(name, workers);
  }

  /** Wakes this process's workers of a task now instead of at their next poll. */
  private wake(name: string): void {
    for (const id of this.workers.get(name) ?? []) this.boss.notifyWorker(id);
  }

  /** Whether a task of this name is registered (and so may be added). */
  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /**
   * Queues a job; returns its id, or null when a stately task already has one queued under the key
   * (or the queue has stopped). A task never registered is a programming error: it throws.
   */
  async addJob(name: string, payload: object, options: JobOptions = {}): Promise<string | null> {
    if (this.stopped) return null;
    if (!this.tasks.has(name)) throw new Error(`no job task "${name}" is registered`);
    const id = await this.boss.send(name, payload, {
      ...(options.runAt ? { startAfter: options.runAt } : {}),
      ...(options.jobKey ? { singletonKey: options.jobKey } : {}),
      ...(options.maxAttempts ? { retryLimit: options.maxAttempts - 1 } : {}),
      ...(options.transaction ? { db: sqlThrough(this.sequelize, options.transaction) } : {}),
    });
    if (id && (!options.runAt || options.runAt.getTime() <= Date.now())) {
      if (options.transaction) options.transaction.afterCommit(() => this.wake(name));
      else this.wake(name);
    }
    return id;
  }

  /** Runs a registered task on a cron schedule (UTC), once per schedule across every instance. */
  async schedule(name: string, cron: string, payload: object = {}): Promise<void> {
    await this.boss.schedule(name, cron, payload, { tz: 'UTC' });
  }

  /** A job's state, for status endpoints (`created`, `retry`, `active`, `completed`, `cancelled`, `failed`). */
  async jobState(name: string, id: string): Promise<{ state: string; output: unknown } | null> {
    const job = await this.boss.getJobById(name, id);
    return job ? { state: job.state, output: job.output } : null;
  }

  /** Stops fetching, waits for running handlers (up to timeoutMs), then lets the database close. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    running.delete(this.sequelize);
    await this.boss.stop({ graceful: true, wait: true, close: false, timeout: timeoutMs });
    await Promise.allSettled([...this.adapter.inFlight]);
    this.adapter.closed = true;
  }
}

/**
 * Adds a job on the queue running in this process, inside `transaction` when given; returns null
 * when no queue runs here (a CLI process) or it has not registered the task yet (the server is
 * starting): callers that need the job anyway leave a row that a scheduled sweep picks up.
 */
export async function addJob(
  store: Pick<Store, 'sequelize'>,
  name: string,
  payload: object,
  options: JobOptions = {},
): Promise<string | null> {
  const queue = jobQueueOf(store);
  return queue?.has(name) ? queue.addJob(name, payload, options) : null;
}
