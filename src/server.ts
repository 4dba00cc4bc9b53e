import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { connectDatabase, type Database } from './db/connect.js';
import { knownMigrations, migrate } from './db/migrator.js';
import { createStore } from './db/store.js';
import type { JobQueue } from './jobs/queue.js';
import { startJobs } from './jobs/service.js';
import { createApp } from './http/app.js';
import { flushWriteBehind } from './domain/write-behind.js';
import { createNrpsRunner } from '../lti/nrps-runner.js';
import { ROSTER_SYNC_TASK, type RosterSyncJob } from './domain/roster-sync-runner.js';
import { ABANDONED_AFTER_MS } from './domain/roster-sync.js';
import { answerClientErrors } from './http/client-error.js';
import { readinessCheck } from './http/health.js';

export interface RunningServer {
  url: string;
  port: number;
  db: Database;
  /**
   * The job queue this server works (register more tasks on it). It starts right after the server
   * listens, so readiness does not wait for it; until then `addJob` finds no queue and the work
   * waits in its table for the first dispatch.
   */
  jobs: Promise<JobQueue>;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), closes the database. */
  close(): Promise<void>;
}

/** Connects (or opens the embedded database), migrates, and serves the app. */
export async function startServer(
  config: Config,
  logger: Logger,
  options: { persist?: boolean } = {},
): Promise<RunningServer> {
  const db = await connectDatabase(config, {
    persist: options.persist,
    statementTimeoutMs: config.statementTimeoutMs,
  });
  try {
    const applied = await migrate(db.sequelize);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    const expected = await knownMigrations();
    let draining = false;
    const store = createStore(db.sequelize, { toolKeySecrets: config.toolKeySecrets });
    const { nrps, ...runnerSettings } = config.rosterSync;
    const rosterSync = createNrpsRunner(store, { logger, ...runnerSettings, client: nrps });
    const app = createApp({
      config,
      store,
      logger,
      rosterSync,
      readiness: readinessCheck(db.sequelize, expected),
      draining: () => draining,
    });
    const server = await listen(app.fetch, config);
    const jobs = startJobs(store, config, logger).then(async (queue) => {
      // Roster syncs move onto the queue once it runs (until then they run in this process).
      try {
        await queue.registerTask<RosterSyncJob>(ROSTER_SYNC_TASK, async (job) => void (await rosterSync.run(job)), {
          concurrency: config.rosterSync.concurrency,
          // The sync retries the platform itself and records a failure; a second run of the same
          // row is refused (it only runs a row it moves from queued to running).
          maxAttempts: 1,
          // The job's lease and the point where a `running` sync counts as abandoned are one limit.
          timeoutSeconds: ABANDONED_AFTER_MS / 1000,
        });
      } catch (err) {
        await queue.stop();
        throw err;
      }
      rosterSync.useDispatch(async (job) => void (await queue.addJob(ROSTER_SYNC_TASK, job, { jobKey: job.syncId })));
      return queue;
    });
    jobs.catch((err) => logger.error({ err }, 'the job queue did not start: background work waits'));
    const port = (server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}`;
    logger.info({ port, database: db.kind }, 'listening');
    if (config.databaseUrl && config.toolKeySecrets.length === 0)
      logger.warn("TOOL_KEY_SECRET is not set: the tool's private keys are stored unsealed in the database");
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      db,
      jobs,
      close: () =>
        (closing ??= (async () => {
          draining = true;
          await drain(server, config.shutdownTimeoutMs, logger);
          await rosterSync.stop();
          await flushWriteBehind(store);
          // Running jobs finish (or are left to pg-boss to retry) before the database closes.
          await jobs.then(
            (queue) => queue.stop(config.shutdownTimeoutMs),
            () => {},
          );
          await db.close();
          logger.info('stopped');
        })()),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

function listen(fetch: (req: Request) => Response | Promise<Response>, config: Config): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port: config.port, hostname: config.host }, () => resolve(server));
    answerClientErrors(server as import('node:http').Server);
    server.once('error', reject);
  });
}

/**
 * Stop accepting; close keep-alive sockets as soon as they fall idle (a request that finishes during
 * the drain leaves its socket idle); wait for in-flight requests; force after the timeout.
 */
function drain(server: ServerType, timeoutMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const http = server as import('node:http').Server;
    const sweep = setInterval(() => http.closeIdleConnections?.(), 50);
    const timer = setTimeout(() => {
      logger.warn({ timeoutMs }, 'shutdown timeout: closing remaining connections');
      http.closeAllConnections?.();
    }, timeoutMs);
    timer.unref();
    http.close(() => {
      clearInterval(sweep);
      clearTimeout(timer);
      resolve();
    });
    http.closeIdleConnections?.();
  });
}
