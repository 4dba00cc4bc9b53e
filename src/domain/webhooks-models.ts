import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';
import { DataTypes, Model } from 'sequelize';
import {
  bindModel,
  boolean,
  date,
  integer,
  json,
  now,
  nullableDate,
  nullableInteger,
  nullableText,
  nullableUuid,
  serialPk,
  text,
  textWithDefault,
  uuid,
  uuidPk,
} from './model-kit.js';

/** A tenant's webhook endpoint (migrations/0070_webhooks.sql); `secret` is sealed at rest. */
export class WebhookEndpoint extends Model<InferAttributes<WebhookEndpoint>, InferCreationAttributes<WebhookEndpoint>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare url: string;
  declare eventTypes: string[];
  declare secret: unknown;
  declare description: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;
  /** Set when the receiver answered 410 Gone or an admin disabled it (migrations/0131). */
  declare disabledAt: CreationOptional<Date | null>;
  declare disabledReason: CreationOptional<string | null>;
}

/** An event, written in the transaction of the change that caused it. */
export class WebhookEvent extends Model<InferAttributes<WebhookEvent>, InferCreationAttributes<WebhookEvent>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare type: string;
  declare data: Record<string, unknown>;
  declare createdAt: CreationOptional<Date>;
}

export type DeliveryStatus = 'pending' | 'sending' | 'succeeded' | 'dead' | 'cancelled';

/** One event to one endpoint, tried on a schedule until it succeeds or is dead-lettered. */
export class WebhookDelivery extends Model<InferAttributes<WebhookDelivery>, InferCreationAttributes<WebhookDelivery>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare eventId: string;
  declare endpointId: string;
  declare status: CreationOptional<DeliveryStatus>;
  declare attempts: CreationOptional<number>;
  declare nextAttemptAt: CreationOptional<Date>;
  declare leaseUntil: CreationOptional<Date | null>;
  declare queued: CreationOptional<boolean>;
  declare lastStatusCode: CreationOptional<number | null>;
  declare lastError: CreationOptional<string | null>;
  declare replayOf: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare finishedAt: CreationOptional<Date | null>;
}

/** One HTTP attempt of a delivery. */
export class WebhookAttempt extends Model<InferAttributes<WebhookAttempt>, InferCreationAttributes<WebhookAttempt>> {
  declare id: CreationOptional<number>;
  declare tenantId: string;
  declare deliveryId: string;
  declare attempt: number;
  declare startedAt: Date;
  declare durationMs: number;
  declare statusCode: CreationOptional<number | null>;
  declare error: CreationOptional<string | null>;
  declare response: CreationOptional<string | null>;
}

export function initWebhooksModels(sequelize: Sequelize) {
  return {
    WebhookEndpoint: bindModel(WebhookEndpoint, sequelize, 'webhook_endpoints', {
      id: uuidPk(),
      tenantId: uuid(),
      url: text(),
      eventTypes: { type: DataTypes.ARRAY(DataTypes.TEXT), allowNull: false },
      secret: json(),
      description: nullableText(),
      createdAt: now(),
      deletedAt: nullableDate(),
      disabledAt: nullableDate(),
      disabledReason: nullableText(),
    }),
    WebhookEvent: bindModel(WebhookEvent, sequelize, 'webhook_events', {
      id: uuidPk(),
      tenantId: uuid(),
      type: text(),
      data: json(),
      createdAt: now(),
    }),
    WebhookDelivery: bindModel(WebhookDelivery, sequelize, 'webhook_deliveries', {
      id: uuidPk(),
      tenantId: uuid(),
      eventId: uuid(),
      endpointId: uuid(),
      status: textWithDefault('pending'),
      attempts: integer(0),
      nextAttemptAt: now(),
      leaseUntil: nullableDate(),
      queued: boolean(false),
      lastStatusCode: nullableInteger(),
      lastError: nullableText(),
      replayOf: nullableUuid(),
      createdAt: now(),
      finishedAt: nullableDate(),
    }),
    WebhookAttempt: bindModel(WebhookAttempt, sequelize, 'webhook_attempts', {
      id: serialPk(),
      tenantId: uuid(),
      deliveryId: uuid(),
      attempt: { type: DataTypes.INTEGER, allowNull: false },
      startedAt: date(),
      durationMs: { type: DataTypes.INTEGER, allowNull: false },
      statusCode: nullableInteger(),
      error: nullableText(),
      response: nullableText(),
    }),
  };
}
