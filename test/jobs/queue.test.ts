import type { Logger } from 'pino';
import { Sequelize } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketPath } from '../../src/db/embedded.js';
import { inTransaction } from '../../src/db/store.js';
import { addJob, JobQueue, jobQueueOf } from '../../src/jobs/queue.js';
import { backendName, createTestDatabase, onPostgres, type TestDatabase } from '../support/db.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The job queue (pg-boss over the service's own connections) on the backend this run tests: the
 * same guarantees on PGlite as on PostgreSQL — a job added in a transaction exists exactly when it
 * commits, failed runs are retried up to their attempts, stately keys keep one job queued, a job
 * waits for its time, and stop() lets a running handler finish.
 */
let db: TestDatabase;
let queue: JobQueue;
beforeAll(async () => {
  db = await createTestDatabase();
  queue = await JobQueue.start(db.store, { pollIntervalMs: 500 });
});
afterAll(async () => {
  await queue?.stop();
  await db?.cleanup();
});

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe(`the job queue on ${backendName}`, () => {
  it('runs a job added in a committed transaction once, and never one whose transaction rolled back', async () => {
    const ran: string[] = [];
    await queue.registerTask<{ tag: string }>('test.tx', async (p) => void ran.push(p.tag));
    expect(jobQueueOf(db.store)).toBe(queue);
    await expect(
      inTransaction(db.store, async (t) => {
        await addJob(db.store, 'test.tx', { tag: 'rolled-back' }, { transaction: t });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    await inTransaction(db.store, (t) => addJob(db.store, 'test.tx', { tag: 'committed' }, { transaction: t }));
    await until(() => ran.length > 0);
    await new Promise((r) => setTimeout(r, 1200));
    expect(ran).toEqual(['committed']);
  });

  it('retries a failing handler until its attempts are spent, counting attempts from 1', async () => {
    const attempts: number[] = [];
    await queue.registerTask(
      'test.retry',
      async (_p, job) => {
        attempts.push(job.attempt);
        throw new Error(`failing attempt ${job.attempt}`);
      },
      { maxAttempts: 3, retryDelaySeconds: 1 },
    );
    await queue.addJob('test.retry', {});
    await until(() => attempts.length === 3, 20_000);
    await new Promise((r) => setTimeout(r, 2500));
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('keeps one job queued per key on a stately task', async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await queue.registerTask(
      'test.stately',
      async () => {
        runs++;
        await gate;
      },
      { policy: 'stately' },
    );
    const runAt = new Date(Date.now() + 60_000);
    expect(await queue.addJob('test.stately', {}, { jobKey: 'k', runAt })).toBeTruthy();
    expect(await queue.addJob('test.stately', {}, { jobKey: 'k', runAt })).toBeNull();
    expect(await queue.addJob('test.stately', {}, { jobKey: 'other' })).toBeTruthy();
    await until(() => runs === 1);
    release();
  });

  it('does not run a job before its time', async () => {
    const ranAt: number[] = [];
    await queue.registerTask('test.later', async () => void ranAt.push(Date.now()));
    const runAt = new Date(Date.now() + 1500);
    await queue.addJob('test.later', {}, { runAt });
    await until(() => ranAt.length === 1);
    expect(ranAt[0]).toBeGreaterThanOrEqual(runAt.getTime());
  });

  it('stop() waits for a running handler before the database may close', async () => {
    const other = await createTestDatabase();
    const q = await JobQueue.start(other.store, { pollIntervalMs: 500 });
    let finished = false;
    let started = false;
    await q.registerTask('test.slow', async () => {
      started = true;
      await new Promise((r) => setTimeout(r, 800));
      finished = true;
    });
    await q.addJob('test.slow', {});
    await until(() => started);
    await q.stop(5000);
    expect(finished).toBe(true);
    expect(jobQueueOf(other.store)).toBeNull();
    expect(await addJob(other.store, 'test.slow', {})).toBeNull();
    await other.cleanup();
  });

  it('survives the database going away just as a job finishes (pg-boss records the outcome unawaited)', async () => {
    const other = await createTestDatabase();
    const proxy = new TcpProxy(
      onPostgres ? { host: '127.0.0.1', port: Number(new URL(other.url!).port || 5432) } : socketPath(other.dataDir!),
    );
    const port = await proxy.start();
    const viaProxy = new Sequelize(onPostgres ? new URL(other.url!).pathname.slice(1) : 'postgres', 'postgres', '', {
      host: '127.0.0.1',
      port,
      dialect: 'postgres',
      logging: false,
      pool: { max: 2, acquire: 2000 },
    });
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const q = await JobQueue.start({ sequelize: viaProxy }, { pollIntervalMs: 500, logger });
    try {
      let ran = false;
      await q.registerTask('test.cut', async () => {
        await proxy.stop(); // the database is gone when pg-boss goes to mark the job completed
        ran = true;
      });
      await q.addJob('test.cut', {});
      await until(() => ran);
      await until(() => warnings.includes('job outcome not recorded; the job is retried when its lease expires'));
      await new Promise((r) => setTimeout(r, 300));
      expect(unhandled).toEqual([]);
    } finally {
      await proxy.start();
      await q.stop(2000);
      process.off('unhandledRejection', onUnhandled);
      await viaProxy.close();
      await proxy.stop();
      await other.cleanup();
    }
  });
});
