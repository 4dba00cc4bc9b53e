import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { fn, literal, type Transaction } from 'sequelize';
import type { Store } from '../db/store.js';
import { exec } from '../db/sql.js';
import { addJob, jobQueueOf } from '../jobs/queue.js';

/**
 * Mail goes through an outbox table written in the same transaction as the change that causes it
 * (an invitation), so a rolled-back grant never sends mail and a crash never loses one. A drain
 * sends queued rows over SMTP_URL with nodemailer; without SMTP_URL it logs that (never the body) and marks them
 * `logged` — kept in the table, never lost.
 */
export interface OutboxMail {
  recipient: string;
  subject: string;
  body: string;
}

export async function enqueueMail(store: Store, t: Transaction, tenantId: string, mails: OutboxMail[]): Promise<void> {
  if (!mails.length) return;
  await exec(
    store,
    'INSERT INTO outbox (tenant_id, recipient, subject, body) SELECT $1, r, s, b FROM unnest($2::text[], $3::text[], $4::text[]) AS x (r, s, b)',
    [tenantId, mails.map((m) => m.recipient), mails.map((m) => m.subject), mails.map((m) => m.body)],
    t,
  );
}

const MAX_ATTEMPTS = 5;

/** The job queue task that drains the outbox (src/jobs/service.ts). */
export const MAIL_TASK = 'mail.drain';

export class Outbox {
  private draining: Promise<number> | null = null;
  private transport: Transporter | null;
  constructor(
    private readonly store: Store,
    private readonly options: { smtpUrl?: string; from: string; logger?: Logger },
  ) {
    this.transport = options.smtpUrl ? nodemailer.createTransport(options.smtpUrl) : null;
  }

  /**
   * Asks for a drain: a `mail.drain` job on the queue when one runs in this process (at most one
   * waits), else a drain here unless one is running; never throws (a failed send stays queued).
   */
  kick(): void {
    if (jobQueueOf(this.store)?.has(MAIL_TASK)) {
      void addJob(this.store, MAIL_TASK, {}, { jobKey: 'drain' }).catch((err) =>
        this.options.logger?.warn({ err }, 'queueing the mail drain failed'),
      );
      return;
    }
    void this.drain().catch((err) => this.options.logger?.warn({ err }, 'outbox drain failed'));
  }

  /** Sends (or logs) queued mail; returns how many rows it finished. One drain at a time per process. */
  drain(limit = 500): Promise<number> {
    this.draining ??= this.run(limit).finally(() => (this.draining = null));
    return this.draining;
  }

  private async run(limit: number): Promise<number> {
    // Read without holding a transaction: SMTP is slow and PGlite has a single connection.
    const rows = await this.store.models.OutboxMessage.findAll({
      where: { status: 'queued' },
      attributes: ['id', 'tenantId', 'recipient', 'subject', 'body', 'attempts'],
      order: [['id', 'ASC']],
      limit,
      raw: true,
    });
    const { OutboxMessage } = this.store.models;
    let done = 0;
    for (const row of rows) {
      try {
        if (this.transport) {
          await this.transport.sendMail({
            from: this.options.from,
            to: row.recipient,
            subject: row.subject,
            text: row.body,
          });
        } else {
          this.options.logger?.info(
            // Never the body: an invitation's link is a bearer secret, and logs travel further than the database.
            { outboxId: row.id, to: row.recipient, subject: row.subject },
            'mail not sent (no SMTP_URL): kept in the outbox table',
          );
        }
        await OutboxMessage.update(
          { status: this.transport ? 'sent' : 'logged', sentAt: fn('now'), attempts: literal('attempts + 1') },
          { where: { id: row.id, status: 'queued' } },
        );
        done++;
      } catch (err) {
        this.options.logger?.warn({ err, outboxId: row.id }, 'sending mail failed');
        await OutboxMessage.update(
          {
            attempts: literal('attempts + 1'),
            lastError: String((err as Error).message).slice(0, 1000),
            status: literal(`CASE WHEN attempts + 1 >= ${MAX_ATTEMPTS} THEN 'failed' ELSE 'queued' END`),
          },
          { where: { id: row.id } },
        );
      }
    }
    return done;
  }
}

export async function listOutbox(store: Store, tenantId: string, limit = 100) {
  const rows = await store.models.OutboxMessage.findAll({
    where: { tenantId },
    attributes: ['id', 'recipient', 'subject', 'status', 'attempts', 'createdAt', 'sentAt'],
    order: [['id', 'DESC']],
    limit: Math.min(limit, 500),
    raw: true,
  });
  return rows.map((r) => ({
    id: r.id,
    recipient: r.recipient,
    subject: r.subject,
    status: r.status,
    attempts: r.attempts,
    created_at: r.createdAt,
    sent_at: r.sentAt,
  }));
}
