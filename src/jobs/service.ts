import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import { onAuthzChange } from '../domain/change-signal.js';
import { DISPATCH_TASK, kickWebhookDispatch } from '../domain/events.js';
import { MAIL_TASK, Outbox } from '../domain/outbox.js';
import { attemptDelivery, DELIVER_TASK, dispatchDeliveries } from '../domain/webhooks.js';
import { dueOneRosterPulls, syncOneRosterApi } from '../domain/oneroster/connections.js';
import { SecretUnreadableError } from '../errors.js';
import { JobQueue } from './queue.js';

export const ONEROSTER_PULL_TASK = 'oneroster.pull';
export const ONEROSTER_SCHEDULE_TASK = 'oneroster.schedule';

/**
 * The service's background work, on the one job queue: webhook dispatch and delivery, and the
 * invitation mail drain. Other work (roster syncs, OneRoster pulls) registers its tasks on the
 * returned queue the same way. Started and stopped with the server (src/server.ts).
 */
export async function startJobs(store: Store, config: Config, logger: Logger): Promise<JobQueue> {
  const queue = await JobQueue.start(store, { logger, pollIntervalMs: config.jobs.pollIntervalMs });
  try {
    await queue.registerTask(DISPATCH_TASK, async () => void (await dispatchDeliveries(store)), {
      policy: 'stately',
      maxAttempts: 3,
      retryDelaySeconds: 5,
    });
    await queue.registerTask<{ deliveryId: string; attempt: number }>(
      DELIVER_TASK,
      async (job) => void (await attemptDelivery(store, config.webhooks, job)),
      // A run that dies (process killed) is retried by pg-boss; the delivery's own schedule handles HTTP failures.
      {
        concurrency: 4,
        maxAttempts: 3,
        retryDelaySeconds: 30,
        timeoutSeconds: Math.ceil(config.webhooks.timeoutMs / 1000) + 60,
      },
    );
    const outbox = new Outbox(store, { smtpUrl: config.smtpUrl, from: config.privileges.mailFrom, logger });
    await queue.registerTask(MAIL_TASK, async () => void (await outbox.drain()), {
      policy: 'stately',
      maxAttempts: 3,
      retryDelaySeconds: 30,
    });
    // OneRoster API pulls: one at a time per tenant, queued by a minute tick for each connection
    // whose schedule is due (the pull records its outcome and time, failed or not).
    await queue.registerTask<{ tenantId: string }>(
      ONEROSTER_PULL_TASK,
      async ({ tenantId }) => {
        try {
          await syncOneRosterApi(
            store,
            { ...config.oneroster, actor: { actor: 'system:oneroster-schedule' } },
            tenantId,
          );
        } catch (err) {
          // The pull has recorded why on the connection (lastResult.failure). A secret this server
          // cannot open waits for the admin to enter it again: the job ends, with the words logged.
          if (!(err instanceof SecretUnreadableError)) throw err;
          logger.warn({ tenantId, reason: err.message }, 'OneRoster pull not run: its client secret cannot be opened');
        }
      },
      { policy: 'stately', maxAttempts: 1, timeoutSeconds: 60 * 60 },
    );
    await queue.registerTask(
      ONEROSTER_SCHEDULE_TASK,
      async () => {
        for (const tenantId of await dueOneRosterPulls(store))
          await queue.addJob(ONEROSTER_PULL_TASK, { tenantId }, { jobKey: tenantId });
      },
      { policy: 'stately', maxAttempts: 1 },
    );
    await queue.schedule(ONEROSTER_SCHEDULE_TASK, '* * * * *');
    // Safety nets for rows written by other processes (the CLI) or while no queue ran.
    await queue.schedule(DISPATCH_TASK, '* * * * *');
    await queue.schedule(MAIL_TASK, '* * * * *');
  } catch (err) {
    await queue.stop();
    throw err;
  }
  // People triggers write person.* events without this process knowing which commit did: every
  // audited change signals after its commit, and a signal asks for a dispatch (one queued at most).
  let pending: NodeJS.Timeout | null = null;
  const unsubscribe = onAuthzChange(() => {
    pending ??= setTimeout(() => {
      pending = null;
      kickWebhookDispatch(store);
    }, 50);
  });
  kickWebhookDispatch(store);
  const stop = queue.stop.bind(queue);
  queue.stop = async (timeoutMs?: number) => {
    unsubscribe();
    if (pending) clearTimeout(pending);
    await stop(timeoutMs);
  };
  return queue;
}
