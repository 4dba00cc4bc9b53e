import type { CreationOptional, InferAttributes, InferCreationAttributes, NonAttribute, Sequelize } from 'sequelize';
import { Model } from 'sequelize';
import {
  bindModel,
  date,
  integer,
  now,
  nullableDate,
  nullableText,
  nullableUuid,
  serialPk,
  text,
  textWithDefault,
  uuid,
  uuidPk,
} from './model-kit.js';
import type { Person } from './people-models.js';

export type InvitationStatus = 'pending' | 'accepted' | 'expired' | 'revoked';

/** An invitation to a named person (door 2); at most one is pending per person. */
export class Invitation extends Model<InferAttributes<Invitation>, InferCreationAttributes<Invitation>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare personId: string;
  // the schema gives course_id no foreign key, so no association either
  declare courseId: CreationOptional<string | null>;
  declare email: string;
  declare tokenHash: string;
  declare status: CreationOptional<InvitationStatus>;
  declare expiresAt: Date;
  declare sentCount: CreationOptional<number>;
  declare lastSentAt: CreationOptional<Date | null>;
  declare acceptedAt: CreationOptional<Date | null>;
  declare acceptedBy: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;

  declare person?: NonAttribute<Person>;
}

export type OutboxStatus = 'queued' | 'sent' | 'logged' | 'failed';

/** A queued mail, written in the transaction that decided to send it. */
export class OutboxMessage extends Model<InferAttributes<OutboxMessage>, InferCreationAttributes<OutboxMessage>> {
  declare id: CreationOptional<number>;
  declare tenantId: string;
  declare kind: CreationOptional<string>;
  declare recipient: string;
  declare subject: string;
  declare body: string;
  declare status: CreationOptional<OutboxStatus>;
  declare attempts: CreationOptional<number>;
  declare lastError: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare sentAt: CreationOptional<Date | null>;
}

export function initInvitationsModels(sequelize: Sequelize) {
  return {
    Invitation: bindModel(Invitation, sequelize, 'invitations', {
      id: uuidPk(),
      tenantId: uuid(),
      personId: uuid(),
      courseId: nullableUuid(),
      email: text(),
      tokenHash: text(),
      status: textWithDefault('pending'),
      expiresAt: date(),
      sentCount: integer(0),
      lastSentAt: nullableDate(),
      acceptedAt: nullableDate(),
      acceptedBy: nullableUuid(),
      createdAt: now(),
    }),
    OutboxMessage: bindModel(OutboxMessage, sequelize, 'outbox', {
      id: serialPk(),
      tenantId: uuid(),
      kind: textWithDefault('mail'),
      recipient: text(),
      subject: text(),
      body: text(),
      status: textWithDefault('queued'),
      attempts: integer(0),
      lastError: nullableText(),
      createdAt: now(),
      sentAt: nullableDate(),
    }),
  };
}
