import { createRoute, z } from '@hono/zod-openapi';
import { EVENT_TYPES } from '../domain/events.js';
import { adminErrors, json, jsonBody, problem, uuidParam } from './common.js';

export const EventType = z.enum(EVENT_TYPES).openapi('WebhookEventType');

export const WebhookEndpoint = z
  .object({
    id: z.string().uuid(),
    url: z.string().url(),
    eventTypes: z.array(z.string()),
    description: z.string().nullable(),
    createdAt: z.string().datetime(),
    enabled: z.boolean().openapi({ description: 'false: no deliveries until an admin enables it again (PATCH)' }),
    disabledAt: z.string().datetime().nullable(),
    disabledReason: z
      .string()
      .nullable()
      .openapi({ description: 'Why it was disabled: the receiver answered 410 Gone, or an administrator did' }),
  })
  .openapi('WebhookEndpoint');

export const endpointInput = z
  .object({
    url: z.string().min(1).max(2000).openapi({ description: 'http(s) URL on a public address' }),
    eventTypes: z.array(EventType).min(1).max(EVENT_TYPES.length),
    description: z.string().max(500).nullable().optional(),
  })
  .strict();

export const endpointUpdate = z
  .object({
    enabled: z
      .boolean()
      .optional()
      .openapi({ description: 'true re-enables an endpoint disabled by a 410 Gone (or by an admin)' }),
  })
  .strict();

const DeliveryStatus = z.enum(['pending', 'sending', 'succeeded', 'dead', 'cancelled']);

export const WebhookDelivery = z
  .object({
    id: z.string().uuid(),
    endpointId: z.string().uuid(),
    url: z.string(),
    eventId: z.string().uuid().openapi({ description: 'Sent as webhook-id (the same on retries and replays)' }),
    eventType: z.string(),
    status: DeliveryStatus,
    attempts: z.number().int(),
    nextAttemptAt: z.string().datetime().nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    replayOf: z.string().uuid().nullable(),
    createdAt: z.string().datetime(),
    finishedAt: z.string().datetime().nullable(),
  })
  .openapi('WebhookDelivery');

export const WebhookDeliveryDetail = WebhookDelivery.extend({
  event: z.object({ id: z.string(), type: z.string(), timestamp: z.string().datetime(), data: z.unknown() }),
  attemptLog: z.array(
    z.object({
      attempt: z.number().int(),
      startedAt: z.string().datetime(),
      durationMs: z.number().int(),
      statusCode: z.number().int().nullable(),
      error: z.string().nullable(),
      response: z.string().nullable(),
    }),
  ),
}).openapi('WebhookDeliveryDetail');

const errors = { 400: problem('Invalid input (which field and why)'), ...adminErrors };
const idParams = z.object({ id: uuidParam('Id must be a UUID') });

export const listEndpoints = createRoute({
  method: 'get',
  path: '/webhooks/endpoints',
  summary: "The tenant's webhook endpoints",
  responses: { 200: json(z.object({ endpoints: z.array(WebhookEndpoint) }), 'Endpoints'), ...errors },
});

export const createEndpoint = createRoute({
  method: 'post',
  path: '/webhooks/endpoints',
  summary: 'Register a webhook endpoint',
  description:
    'Events are POSTed as JSON ({type, timestamp, data}) signed per Standard Webhooks (webhook-id, webhook-timestamp, ' +
    'webhook-signature) with the secret returned here once. URLs on loopback, private or link-local addresses are refused.',
  request: { body: jsonBody(endpointInput) },
  responses: {
    201: json(
      WebhookEndpoint.extend({ secret: z.string().openapi({ description: 'whsec_…, shown once' }) }),
      'Registered',
    ),
    ...errors,
  },
});

export const getEndpoint = createRoute({
  method: 'get',
  path: '/webhooks/endpoints/{id}',
  summary: 'One webhook endpoint',
  request: { params: idParams },
  responses: { 200: json(WebhookEndpoint, 'The endpoint'), ...errors, 404: problem('No such endpoint in this tenant') },
});

export const updateEndpoint = createRoute({
  method: 'patch',
  path: '/webhooks/endpoints/{id}',
  summary: 'Enable or disable a webhook endpoint',
  description:
    'An endpoint whose receiver answers 410 Gone is disabled by the service (that delivery is not retried). ' +
    'Disabled, it gets no new deliveries and its pending ones are cancelled; enabled again, it gets new events ' +
    '(replay what it missed).',
  request: { params: idParams, body: jsonBody(endpointUpdate) },
  responses: { 200: json(WebhookEndpoint, 'The endpoint'), ...errors, 404: problem('No such endpoint in this tenant') },
});

export const deleteEndpoint = createRoute({
  method: 'delete',
  path: '/webhooks/endpoints/{id}',
  summary: 'Delete a webhook endpoint (its pending deliveries are cancelled)',
  request: { params: idParams },
  responses: { 204: { description: 'Deleted' }, ...errors, 404: problem('No such endpoint in this tenant') },
});

export const listDeliveries = createRoute({
  method: 'get',
  path: '/webhooks/deliveries',
  summary: 'Webhook deliveries, newest first',
  request: {
    query: z.object({
      status: DeliveryStatus.optional(),
      endpointId: z.string().uuid().optional(),
      eventType: EventType.optional(),
      limit: z.coerce.number().int().min(1).max(500).optional(),
    }),
  },
  responses: { 200: json(z.object({ deliveries: z.array(WebhookDelivery) }), 'Deliveries'), ...errors },
});

export const getDelivery = createRoute({
  method: 'get',
  path: '/webhooks/deliveries/{id}',
  summary: 'One delivery: the event as sent and every attempt',
  request: { params: idParams },
  responses: { 200: json(WebhookDeliveryDetail, 'The delivery'), ...errors, 404: problem('No such delivery') },
});

export const replayDelivery = createRoute({
  method: 'post',
  path: '/webhooks/deliveries/{id}/replay',
  summary: "Send a delivery's event again (a new delivery with its own attempts)",
  request: { params: idParams },
  responses: {
    202: json(WebhookDelivery, 'The new delivery, queued'),
    ...errors,
    404: problem('No such delivery'),
    409: problem('The endpoint has been deleted or is disabled'),
  },
});
