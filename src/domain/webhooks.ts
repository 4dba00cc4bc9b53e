import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { QueryTypes, type Transaction } from 'sequelize';
import { Webhook } from 'standardwebhooks';
import { select } from '../db/sql.js';
import { type ActorContext, inTransaction, type Store } from '../db/store.js';
import { ConflictError, NotFoundError, SecretUnreadableError, ValidationError } from '../errors.js';
import { addJob } from '../jobs/queue.js';
import { recordAudit } from './audit.js';
import { EVENT_TYPES, type EventType } from './events.js';
import { checkOutboundTarget, guardedLookup, refusedLiteral } from './outbound-target.js';
import type { DeliveryStatus } from './webhooks-models.js';

/**
 * Outgoing webhooks: a tenant's endpoints, and the delivery of the events written by
 * src/domain/events.ts. Each delivery is tried by a job on the queue, signed per Standard Webhooks
 * (webhook-id, webhook-timestamp, webhook-signature) with the endpoint's secret; a failure is
 * retried after the next wait of WEBHOOK_RETRY_SCHEDULE (about a day in all by default), and after
 * the last one the delivery is dead-lettered (status `dead`), to be replayed by an admin. A 410
 * Gone means the receiver has gone for good (Standard Webhooks): that delivery is not retried and
 * the endpoint is disabled (no new deliveries, its pending ones cancelled) until an admin enables it.
 */
export const DELIVER_TASK = 'webhooks.deliver';

export interface WebhookSettings {
  allowPrivateTargets: boolean;
  timeoutMs: number;
  retryScheduleSeconds: number[];
}

export interface EndpointInput {
  url: string;
  eventTypes: string[];
  description?: string | null;
}

export interface EndpointView {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  createdAt: string;
  enabled: boolean;
  disabledAt: string | null;
  disabledReason: string | null;
}

const viewOf = (e: {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  createdAt: Date;
  disabledAt: Date | null;
  disabledReason: string | null;
}): EndpointView => ({
  id: e.id,
  url: e.url,
  eventTypes: e.eventTypes,
  description: e.description,
  createdAt: new Date(e.createdAt).toISOString(),
  enabled: !e.disabledAt,
  disabledAt: e.disabledAt ? new Date(e.disabledAt).toISOString() : null,
  disabledReason: e.disabledReason,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// The secret is kept sealed like the tool's keys (a symmetric JWK under TOOL_KEY_SECRET).
const sealSecret = (store: Store, secret: string) => store.sealer.seal({ kty: 'oct', k: secret });
const openSecret = (store: Store, stored: unknown) => String(store.sealer.open(stored).k);
const UNSIGNABLE =
  "not sent: the endpoint's signing secret cannot be opened with this server's sealing key (TOOL_KEY_SECRET was changed or lost); put the old key in TOOL_KEY_SECRET_PREVIOUS and replay, or create the endpoint again";

/** Registers an endpoint; the secret (`whsec_…`) is returned this once and never shown again. */
export async function createEndpoint(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  input: EndpointInput,
  settings: Pick<WebhookSettings, 'allowPrivateTargets'>,
): Promise<EndpointView & { secret: string }> {
  const unknown = input.eventTypes.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length || input.eventTypes.length === 0)
    throw new ValidationError(
      unknown.length
        ? `Unknown event type(s): ${unknown.join(', ')}; known: ${EVENT_TYPES.join(', ')}`
        : 'eventTypes must name at least one event type',
      { details: { field: 'eventTypes' } },
    );
  const url = await checkOutboundTarget(input.url, settings.allowPrivateTargets, 'url');
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  return inTransaction(store, async (t) => {
    const row = await store.models.WebhookEndpoint.create(
      {
        tenantId,
        url: url.toString(),
        eventTypes: [...new Set(input.eventTypes)].sort(),
        secret: sealSecret(store, secret),
        description: input.description ?? null,
      },
      { transaction: t },
    );
    const view = viewOf(row.get({ plain: true }));
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'webhook_endpoint.create',
      targetType: 'webhook_endpoint',
      targetId: view.id,
      after: view,
    });
    return { ...view, secret };
  });
}

export async function listEndpoints(store: Store, tenantId: string): Promise<EndpointView[]> {
  const rows = await store.models.WebhookEndpoint.findAll({
    where: { tenantId, deletedAt: null },
    attributes: ['id', 'url', 'eventTypes', 'description', 'createdAt', 'disabledAt', 'disabledReason'],
    order: [['createdAt', 'ASC']],
    raw: true,
  });
  return rows.map(viewOf);
}

async function liveEndpoint(store: Store, tenantId: string, id: string, t?: Transaction) {
  const row = UUID.test(id)
    ? await store.models.WebhookEndpoint.findOne({
        where: { tenantId, id, deletedAt: null },
        transaction: t,
        lock: t ? t.LOCK.UPDATE : undefined,
      })
    : null;
  if (!row) throw new NotFoundError(`No webhook endpoint ${id} in this tenant`);
  return row;
}

export async function getEndpoint(store: Store, tenantId: string, id: string): Promise<EndpointView> {
  return viewOf((await liveEndpoint(store, tenantId, id)).get({ plain: true }));
}

/**
 * Cancels the endpoint's deliveries not yet made, in `t`; how many. One whose attempt is being
 * recorded right now is skipped, not waited for (waiting can deadlock with that transaction on
 * PostgreSQL); its next attempt finds the endpoint deleted or disabled and cancels it then.
 */
async function cancelDeliveries(store: Store, t: Transaction, tenantId: string, endpointId: string, at = new Date()) {
  const cancelled = await select<{ id: string }>(
    store,
    `UPDATE webhook_deliveries SET status = 'cancelled', finished_at = $3
      WHERE id IN (SELECT id FROM webhook_deliveries
                    WHERE tenant_id = $1 AND endpoint_id = $2 AND status IN ('pending', 'sending')
                    FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    [tenantId, endpointId, at],
    t,
  );
  return cancelled.length;
}

/**
 * Enables or disables an endpoint. Disabled, it gets no new events and its deliveries not yet made
 * are cancelled (replay them once it is enabled again); enabling it clears why it was disabled.
 */
export async function updateEndpoint(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  id: string,
  input: { enabled?: boolean },
): Promise<EndpointView> {
  return inTransaction(store, async (t) => {
    const row = await liveEndpoint(store, tenantId, id, t);
    const before = viewOf(row.get({ plain: true }));
    if (input.enabled === undefined || input.enabled === before.enabled) return before;
    await row.update(
      input.enabled
        ? { disabledAt: null, disabledReason: null }
        : { disabledAt: new Date(), disabledReason: 'disabled by an administrator' },
      { transaction: t },
    );
    const after = viewOf(row.get({ plain: true }));
    const cancelled = input.enabled ? 0 : await cancelDeliveries(store, t, tenantId, id);
    await recordAudit(store, t, ctx, {
      tenantId,
      action: input.enabled ? 'webhook_endpoint.enable' : 'webhook_endpoint.disable',
      targetType: 'webhook_endpoint',
      targetId: id,
      before,
      after: input.enabled ? after : { ...after, deliveriesCancelled: cancelled },
    });
    return after;
  });
}

/** Deletes an endpoint: it gets no new events, and its deliveries not yet made are cancelled. */
export async function deleteEndpoint(store: Store, ctx: ActorContext, tenantId: string, id: string): Promise<void> {
  await inTransaction(store, async (t) => {
    const row = await liveEndpoint(store, tenantId, id, t);
    await row.update({ deletedAt: new Date() }, { transaction: t });
    const cancelled = await cancelDeliveries(store, t, tenantId, id);
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'webhook_endpoint.delete',
      targetType: 'webhook_endpoint',
      targetId: id,
      before: viewOf(row.get({ plain: true })),
      after: { deliveriesCancelled: cancelled },
    });
  });
}

export interface DeliveryView {
  id: string;
  endpointId: string;
  url: string;
  eventId: string;
  eventType: EventType;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  replayOf: string | null;
  createdAt: string;
  finishedAt: string | null;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  url: string;
  event_id: string;
  event_type: EventType;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  replay_of: string | null;
  created_at: Date;
  finished_at: Date | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
const deliveryView = (r: DeliveryRow): DeliveryView => ({
  id: r.id,
  endpointId: r.endpoint_id,
  url: r.url,
  eventId: r.event_id,
  eventType: r.event_type,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.status === 'pending' || r.status === 'sending' ? iso(r.next_attempt_at) : null,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  replayOf: r.replay_of,
  createdAt: iso(r.created_at)!,
  finishedAt: iso(r.finished_at),
});

const DELIVERY_SELECT = `SELECT d.id, d.endpoint_id, e.url, d.event_id, ev.type AS event_type, d.status, d.attempts,
    d.next_attempt_at, d.last_status_code, d.last_error, d.replay_of, d.created_at, d.finished_at
  FROM webhook_deliveries d
  JOIN webhook_endpoints e ON e.id = d.endpoint_id
  JOIN webhook_events ev ON ev.id = d.event_id`;

export interface DeliveryFilter {
  status?: DeliveryStatus;
  endpointId?: string;
  eventType?: string;
  limit?: number;
}

/** The tenant's deliveries, newest first. */
export async function listDeliveries(store: Store, tenantId: string, f: DeliveryFilter = {}): Promise<DeliveryView[]> {
  const rows = await select<DeliveryRow>(
    store,
    `${DELIVERY_SELECT}
      WHERE d.tenant_id = $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::uuid IS NULL OR d.endpoint_id = $3)
        AND ($4::text IS NULL OR ev.type = $4)
      ORDER BY d.created_at DESC, d.id LIMIT $5`,
    [
      tenantId,
      f.status ?? null,
      f.endpointId && UUID.test(f.endpointId)
        ? f.endpointId
        : f.endpointId
          ? '00000000-0000-0000-0000-000000000000'
          : null,
      f.eventType ?? null,
      Math.min(Math.max(f.limit ?? 100, 1), 500),
    ],
  );
  return rows.map(deliveryView);
}

export interface AttemptView {
  attempt: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  response: string | null;
}

/** One delivery with its event (as sent) and every attempt. */
export async function getDelivery(
  store: Store,
  tenantId: string,
  id: string,
): Promise<
  DeliveryView & { event: { id: string; type: string; timestamp: string; data: unknown }; attemptLog: AttemptView[] }
> {
  const [row] = UUID.test(id)
    ? await select<DeliveryRow & { data: unknown; event_created_at: Date }>(
        store,
        `SELECT x.*, ev.data, ev.created_at AS event_created_at FROM (${DELIVERY_SELECT} WHERE d.tenant_id = $1 AND d.id = $2) x
           JOIN webhook_events ev ON ev.id = x.event_id`,
        [tenantId, id],
      )
    : [];
  if (!row) throw new NotFoundError(`No webhook delivery ${id} in this tenant`);
  const attempts = await store.models.WebhookAttempt.findAll({
    where: { tenantId, deliveryId: id },
    order: [['attempt', 'ASC']],
    raw: true,
  });
  return {
    ...deliveryView(row),
    event: { id: row.event_id, type: row.event_type, timestamp: iso(row.event_created_at)!, data: row.data },
    attemptLog: attempts.map((a) => ({
      attempt: a.attempt,
      startedAt: iso(a.startedAt)!,
      durationMs: a.durationMs,
      statusCode: a.statusCode,
      error: a.error,
      response: a.response,
    })),
  };
}

/**
 * Sends a delivery's event again, to the same endpoint, as a new delivery (its own attempts and
 * schedule). The webhook-id is the event's, so a receiver that already handled it can tell.
 */
export async function replayDelivery(
  store: Store,
  ctx: ActorContext,
  tenantId: string,
  id: string,
): Promise<DeliveryView> {
  const newId = await inTransaction(store, async (t) => {
    const original = UUID.test(id)
      ? await store.models.WebhookDelivery.findOne({ where: { tenantId, id }, transaction: t })
      : null;
    if (!original) throw new NotFoundError(`No webhook delivery ${id} in this tenant`);
    const endpoint = await store.models.WebhookEndpoint.findOne({
      where: { tenantId, id: original.endpointId },
      transaction: t,
    });
    if (!endpoint || endpoint.deletedAt) throw new ConflictError('The endpoint of this delivery has been deleted');
    if (endpoint.disabledAt)
      throw new ConflictError(
        `The endpoint of this delivery is disabled (${endpoint.disabledReason}); enable it first`,
        { details: { endpointId: endpoint.id } },
      );
    const replay = await store.models.WebhookDelivery.create(
      { tenantId, eventId: original.eventId, endpointId: original.endpointId, replayOf: original.id, queued: false },
      { transaction: t },
    );
    await queueAttempt(store, t, replay.id, 1, new Date());
    await recordAudit(store, t, ctx, {
      tenantId,
      action: 'webhook_delivery.replay',
      targetType: 'webhook_delivery',
      targetId: original.id,
      after: { replay: replay.id, eventId: original.eventId, endpointId: original.endpointId },
    });
    return replay.id;
  });
  return (await listDeliveries(store, tenantId, { limit: 500 })).find((d) => d.id === newId)!;
}

/** Adds the job for a delivery's next attempt in `t`, marking the delivery queued when a queue runs here. */
async function queueAttempt(store: Store, t: Transaction, deliveryId: string, attempt: number, runAt: Date) {
  const job = await addJob(store, DELIVER_TASK, { deliveryId, attempt }, { runAt, transaction: t });
  if (job) await store.models.WebhookDelivery.update({ queued: true }, { where: { id: deliveryId }, transaction: t });
}

/**
 * The dispatch task: gives every pending delivery without a job its job (new events, deliveries
 * written while no queue ran in the writing process, leases of a process that died). Safe to run
 * anywhere at any time: each delivery is queued once, in the transaction that marks it queued.
 */
export async function dispatchDeliveries(store: Store): Promise<number> {
  // The common case (nothing to dispatch) is one probe on the partial index, kept out of query
  // hooks like the queue's own polling: background work, not part of any request.
  const [probe] = await store.sequelize.query<{ work: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status IN ('pending', 'sending')
        AND (NOT queued OR lease_until < now())) AS work`,
    // `hooks` is honoured by Sequelize's query() but missing from its QueryOptions type.
    { type: QueryTypes.SELECT, hooks: false } as { type: QueryTypes.SELECT },
  );
  if (!probe.work) return 0;
  await store.sequelize.query(
    `UPDATE webhook_deliveries SET status = 'pending', queued = false, lease_until = NULL
      WHERE status = 'sending' AND lease_until < now()`,
  );
  let total = 0;
  for (;;) {
    const n = await inTransaction(store, async (t) => {
      const due = await select<{ id: string; attempts: number; next_attempt_at: Date }>(
        store,
        `SELECT id, attempts, next_attempt_at FROM webhook_deliveries
          WHERE status = 'pending' AND NOT queued ORDER BY next_attempt_at LIMIT 200 FOR UPDATE SKIP LOCKED`,
        [],
        t,
      );
      for (const d of due) await queueAttempt(store, t, d.id, d.attempts + 1, new Date(d.next_attempt_at));
      return due.length;
    });
    total += n;
    if (n < 200) return total;
  }
}

interface Claimed {
  id: string;
  tenant_id: string;
  attempts: number;
  url: string;
  secret: unknown;
  endpoint_id: string;
  endpoint_deleted: boolean;
  endpoint_disabled: boolean;
  event_id: string;
  event_type: string;
  data: unknown;
  event_created_at: Date;
}

/**
 * The delivery task: one attempt of one delivery. Claims it (a stale or duplicate job finds
 * nothing to claim), POSTs the signed event, records the attempt, and either finishes the delivery
 * or queues the next attempt after the schedule's next wait — or dead-letters it after the last.
 */
export async function attemptDelivery(
  store: Store,
  settings: WebhookSettings,
  job: { deliveryId: string; attempt: number },
  now: () => Date = () => new Date(),
): Promise<DeliveryStatus | null> {
  const leaseMs = settings.timeoutMs * 2 + 30_000;
  const claimed = await store.sequelize.query<Claimed>(
    `WITH c AS (
       UPDATE webhook_deliveries SET status = 'sending', queued = false,
              lease_until = now() + make_interval(secs => $3::double precision / 1000)
        WHERE id = $1 AND status = 'pending' AND attempts = $2 - 1
        RETURNING id, tenant_id, attempts, endpoint_id, event_id)
     SELECT c.id, c.tenant_id, c.attempts, e.url, e.secret, c.endpoint_id,
            e.deleted_at IS NOT NULL AS endpoint_deleted, e.disabled_at IS NOT NULL AS endpoint_disabled,
            ev.id AS event_id, ev.type AS event_type, ev.data, ev.created_at AS event_created_at
       FROM c JOIN webhook_endpoints e ON e.id = c.endpoint_id JOIN webhook_events ev ON ev.id = c.event_id`,
    { bind: [job.deliveryId, job.attempt, leaseMs], type: QueryTypes.SELECT },
  );
  const d = claimed[0];
  if (!d) return null;
  const { WebhookDelivery, WebhookAttempt } = store.models;
  if (d.endpoint_deleted) {
    await WebhookDelivery.update({ status: 'cancelled', finishedAt: now() }, { where: { id: d.id } });
    return 'cancelled';
  }
  if (d.endpoint_disabled) {
    await WebhookDelivery.update(
      { status: 'cancelled', finishedAt: now(), lastError: 'the endpoint is disabled' },
      { where: { id: d.id } },
    );
    return 'cancelled';
  }
  const startedAt = now();
  const timestamp = startedAt;
  const payload = JSON.stringify({
    type: d.event_type,
    timestamp: new Date(d.event_created_at).toISOString(),
    data: d.data,
  });
  let signature: string | null = null;
  try {
    signature = new Webhook(openSecret(store, d.secret)).sign(d.event_id, timestamp, payload);
  } catch (err) {
    if (!(err instanceof SecretUnreadableError)) throw err;
  }
  const started = performance.now();
  // A secret this server cannot open signs nothing, now or on a retry: the delivery is dead-lettered
  // with the reason (replayable once the key is back or the endpoint re-created), nothing is sent.
  const result: PostResult = signature
    ? await post(
        d.url,
        payload,
        {
          'webhook-id': d.event_id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
        settings,
      )
    : { status: null, error: UNSIGNABLE, body: null };
  const durationMs = Math.round(performance.now() - started);
  const ok = result.status !== null && result.status >= 200 && result.status < 300;
  const gone = result.status === 410;
  const attempt = d.attempts + 1;
  const schedule = settings.retryScheduleSeconds;
  const status: DeliveryStatus = ok
    ? 'succeeded'
    : gone || !signature || attempt > schedule.length
      ? 'dead'
      : 'pending';
  await inTransaction(store, async (t) => {
    await WebhookAttempt.create(
      {
        tenantId: d.tenant_id,
        deliveryId: d.id,
        attempt,
        startedAt,
        durationMs,
        statusCode: result.status,
        error: result.error,
        response: result.body,
      },
      { transaction: t },
    );
    const at = now();
    const next = new Date(at.getTime() + (schedule[attempt - 1] ?? 0) * 1000);
    await WebhookDelivery.update(
      {
        status,
        attempts: attempt,
        leaseUntil: null,
        lastStatusCode: result.status,
        lastError:
          result.error ?? (ok ? null : gone ? 'HTTP 410 Gone: the endpoint is disabled' : `HTTP ${result.status}`),
        ...(status === 'pending' ? { nextAttemptAt: next } : { finishedAt: at }),
      },
      { where: { id: d.id }, transaction: t },
    );
    if (status === 'pending') await queueAttempt(store, t, d.id, attempt + 1, next);
    if (gone) await disableGone(store, t, d, at);
  });
  return status;
}

/** The receiver answered 410 Gone: disables the endpoint (once, audited) and cancels what else it has queued. */
async function disableGone(store: Store, t: Transaction, d: Claimed, at: Date) {
  // NO KEY UPDATE: events written meanwhile (their deliveries reference the endpoint) need not wait.
  const endpoint = await store.models.WebhookEndpoint.findOne({
    where: { id: d.endpoint_id, deletedAt: null, disabledAt: null },
    transaction: t,
    lock: t.LOCK.NO_KEY_UPDATE,
  });
  if (!endpoint) return; // deleted, or disabled already (another delivery's 410)
  const before = viewOf(endpoint.get({ plain: true }));
  await endpoint.update(
    { disabledAt: at, disabledReason: `the endpoint answered 410 Gone (delivery ${d.id})` },
    { transaction: t },
  );
  const cancelled = await cancelDeliveries(store, t, d.tenant_id, d.endpoint_id, at);
  await recordAudit(
    store,
    t,
    { actor: 'system:webhooks' },
    {
      tenantId: d.tenant_id,
      action: 'webhook_endpoint.disable',
      targetType: 'webhook_endpoint',
      targetId: d.endpoint_id,
      before,
      after: { ...viewOf(endpoint.get({ plain: true })), deliveriesCancelled: cancelled },
    },
  );
}

interface PostResult {
  status: number | null;
  error: string | null;
  body: string | null;
}

const RESPONSE_KEPT = 1000;

/** POSTs with a deadline covering connect, headers and body; never throws. */
function post(
  url: string,
  payload: string,
  headers: Record<string, string>,
  settings: Pick<WebhookSettings, 'allowPrivateTargets' | 'timeoutMs'>,
): Promise<PostResult> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const refused = refusedLiteral(target, settings.allowPrivateTargets);
    if (refused) return resolve({ status: null, error: `refused: ${refused}`, body: null });
    const client = target.protocol === 'https:' ? https : http;
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
          'user-agent': 'Rosterbridge-Webhooks/1',
        },
        lookup: guardedLookup(settings.allowPrivateTargets) as never,
        timeout: settings.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < RESPONSE_KEPT) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({
            status: res.statusCode ?? null,
            error: null,
            body: Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_KEPT) || null,
          });
        });
        res.on('error', (err) => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? null, error: err.message, body: null });
        });
      },
    );
    const deadline = setTimeout(
      () => req.destroy(new Error(`timed out after ${settings.timeoutMs} ms`)),
      settings.timeoutMs,
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${settings.timeoutMs} ms`)));
    req.on('error', (err) => {
      clearTimeout(deadline);
      resolve({ status: null, error: err.message.slice(0, 500), body: null });
    });
    req.end(payload);
  });
}
