import { EVENT_TYPES } from '../domain/events.js';
import { getTenantBySlug } from '../domain/tenants.js';
import {
  createEndpoint,
  deleteEndpoint,
  type DeliveryFilter,
  getDelivery,
  listDeliveries,
  listEndpoints,
  replayDelivery,
} from '../domain/webhooks.js';
import type { DeliveryStatus } from '../domain/webhooks-models.js';
import type { Command, CommandContext } from './commands.js';
import { table, UsageError } from './io.js';

/** Webhook endpoints and deliveries on the command line (the same operations as /api/v1/webhooks). */
function required(ctx: CommandContext, name: string): string {
  const v = ctx.flags[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v;
}

function onePositional(ctx: CommandContext, what: string): string {
  const [id, ...more] = ctx.positionals;
  if (!id || more.length) throw new UsageError(`expected one ${what} id`);
  return id;
}

const tenantOf = async (ctx: CommandContext) => (await getTenantBySlug(ctx.store, required(ctx, 'tenant'))).id;
const STATUSES: DeliveryStatus[] = ['pending', 'sending', 'succeeded', 'dead', 'cancelled'];

export const webhookCommands: Record<string, Command> = {
  'webhook add': {
    usage: `webhook add --tenant S --url U --events ${EVENT_TYPES.slice(0, 2).join(',')},… [--description D] [--json]`,
    options: {
      tenant: { type: 'string' },
      url: { type: 'string' },
      events: { type: 'string' },
      description: { type: 'string' },
    },
    needsDb: true,
    async run(ctx) {
      const tenantId = await tenantOf(ctx);
      const description = ctx.flags.description;
      const e = await createEndpoint(
        ctx.store,
        ctx.actor,
        tenantId,
        {
          url: required(ctx, 'url'),
          eventTypes: required(ctx, 'events')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          description: typeof description === 'string' ? description : null,
        },
        ctx.config.webhooks,
      );
      ctx.out.print(e, () =>
        [
          `Webhook endpoint ${e.id} → ${e.url}`,
          `  events: ${e.eventTypes.join(', ')}`,
          `  signing secret (shown once, keep it now): ${e.secret}`,
        ].join('\n'),
      );
    },
  },
  'webhook list': {
    usage: 'webhook list --tenant S [--json]',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const endpoints = await listEndpoints(ctx.store, await tenantOf(ctx));
      ctx.out.print(endpoints, () =>
        table(
          endpoints.map((e) => ({
            ...e,
            events: e.eventTypes.join(','),
            state: e.enabled ? 'enabled' : `disabled: ${e.disabledReason ?? ''}`.trim(),
          })),
          ['id', 'url', 'events', 'state', 'createdAt'],
        ),
      );
    },
  },
  'webhook delete': {
    usage: 'webhook delete --tenant S ENDPOINT_ID',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const id = onePositional(ctx, 'endpoint');
      await deleteEndpoint(ctx.store, ctx.actor, await tenantOf(ctx), id);
      ctx.out.print({ deleted: id }, () => `Deleted webhook endpoint ${id}; its deliveries not yet made are cancelled`);
    },
  },
  'webhook deliveries': {
    usage: 'webhook deliveries --tenant S [--status pending|succeeded|dead|…] [--endpoint ID] [--limit N] [--json]',
    options: {
      tenant: { type: 'string' },
      status: { type: 'string' },
      endpoint: { type: 'string' },
      limit: { type: 'string' },
    },
    needsDb: true,
    async run(ctx) {
      const f: DeliveryFilter = {};
      const status = ctx.flags.status;
      if (typeof status === 'string') {
        if (!STATUSES.includes(status as DeliveryStatus))
          throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
        f.status = status as DeliveryStatus;
      }
      if (typeof ctx.flags.endpoint === 'string') f.endpointId = ctx.flags.endpoint;
      if (typeof ctx.flags.limit === 'string') {
        const n = Number(ctx.flags.limit);
        if (!Number.isInteger(n) || n < 1 || n > 500) throw new UsageError('--limit must be 1 to 500');
        f.limit = n;
      }
      const deliveries = await listDeliveries(ctx.store, await tenantOf(ctx), f);
      ctx.out.print(deliveries, () =>
        table(
          deliveries.map((d) => ({ ...d })),
          ['id', 'eventType', 'status', 'attempts', 'lastStatusCode', 'nextAttemptAt', 'url'],
        ),
      );
    },
  },
  'webhook delivery': {
    usage: 'webhook delivery --tenant S DELIVERY_ID [--json]',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const d = await getDelivery(ctx.store, await tenantOf(ctx), onePositional(ctx, 'delivery'));
      ctx.out.print(d, () =>
        [
          `Delivery ${d.id}: ${d.eventType} to ${d.url} — ${d.status} after ${d.attempts} attempt(s)`,
          `  event ${d.event.id} at ${d.event.timestamp}: ${JSON.stringify(d.event.data)}`,
          ...(d.nextAttemptAt ? [`  next attempt at ${d.nextAttemptAt}`] : []),
          table(
            d.attemptLog.map((a) => ({ ...a, result: a.statusCode ?? a.error })),
            ['attempt', 'startedAt', 'durationMs', 'result'],
          ),
        ].join('\n'),
      );
    },
  },
  'webhook replay': {
    usage: 'webhook replay --tenant S DELIVERY_ID [--json]',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const d = await replayDelivery(ctx.store, ctx.actor, await tenantOf(ctx), onePositional(ctx, 'delivery'));
      ctx.out.print(
        d,
        () => `Queued delivery ${d.id}, a replay of ${d.replayOf}; the running server sends it within a minute`,
      );
    },
  },
};
