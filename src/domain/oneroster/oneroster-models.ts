import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';
import { Model } from 'sequelize';
import {
  bindModel,
  boolean,
  integer,
  nullableInteger,
  jsonObject,
  now,
  nullableDate,
  nullableJson,
  nullableText,
  nullableUuid,
  text,
  uuid,
  uuidPk,
} from '../model-kit.js';

/** One applied OneRoster import (a CSV bundle or an API pull): what it read and what it changed. */
export class OneRosterImport extends Model<InferAttributes<OneRosterImport>, InferCreationAttributes<OneRosterImport>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare origin: 'csv' | 'api';
  declare version: '1.1' | '1.2';
  declare files: CreationOptional<Record<string, unknown>>;
  declare summary: CreationOptional<Record<string, unknown>>;
  declare actor: string;
  declare createdAt: CreationOptional<Date>;
}

export type OneRosterKind = 'org' | 'academicSession' | 'course' | 'class' | 'user';

/** A OneRoster record we keep: its sourcedId, the person or course it maps to, and its provenance. */
export class OneRosterRecord extends Model<InferAttributes<OneRosterRecord>, InferCreationAttributes<OneRosterRecord>> {
  declare tenantId: string;
  declare kind: OneRosterKind;
  declare sourcedId: string;
  declare status: 'active' | 'deleted';
  declare digest: string;
  declare personId: CreationOptional<string | null>;
  declare courseId: CreationOptional<string | null>;
  declare createdHere: CreationOptional<boolean>;
  declare importId: string;
  declare updatedAt: CreationOptional<Date>;
}

/** A OneRoster enrollment: the membership (person, course, LTI role) it stands for. */
export class OneRosterEnrollment extends Model<
  InferAttributes<OneRosterEnrollment>,
  InferCreationAttributes<OneRosterEnrollment>
> {
  declare tenantId: string;
  declare sourcedId: string;
  declare status: 'active' | 'deleted';
  declare digest: string;
  declare classSourcedId: string;
  declare userSourcedId: string;
  declare role: string;
  declare personId: string;
  declare courseId: string;
  declare importId: string;
  declare updatedAt: CreationOptional<Date>;
}

/** A tenant's OneRoster 1.2 rostering API and its OAuth 2 client credentials (secret sealed). */
export class OneRosterConnection extends Model<
  InferAttributes<OneRosterConnection>,
  InferCreationAttributes<OneRosterConnection>
> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare baseUrl: string;
  declare tokenUrl: string;
  declare clientId: string;
  declare clientSecret: unknown;
  declare scope: CreationOptional<string | null>;
  declare pageSize: CreationOptional<number>;
  declare syncEveryMinutes: CreationOptional<number | null>;
  declare lastSyncAt: CreationOptional<Date | null>;
  declare lastResult: CreationOptional<Record<string, unknown> | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initOneRosterModels(sequelize: Sequelize) {
  const compositeText = () => ({ ...text(), primaryKey: true });
  const compositeUuid = () => ({ ...uuid(), primaryKey: true });
  return {
    OneRosterImport: bindModel(OneRosterImport, sequelize, 'oneroster_imports', {
      id: uuidPk(),
      tenantId: uuid(),
      origin: text(),
      version: text(),
      files: jsonObject(),
      summary: jsonObject(),
      actor: text(),
      createdAt: now(),
    }),
    OneRosterRecord: bindModel(OneRosterRecord, sequelize, 'oneroster_records', {
      tenantId: compositeUuid(),
      kind: compositeText(),
      sourcedId: compositeText(),
      status: text(),
      digest: text(),
      personId: nullableUuid(),
      courseId: nullableUuid(),
      createdHere: boolean(false),
      importId: uuid(),
      updatedAt: now(),
    }),
    OneRosterEnrollment: bindModel(OneRosterEnrollment, sequelize, 'oneroster_enrollments', {
      tenantId: compositeUuid(),
      sourcedId: compositeText(),
      status: text(),
      digest: text(),
      classSourcedId: text(),
      userSourcedId: text(),
      role: text(),
      personId: uuid(),
      courseId: uuid(),
      importId: uuid(),
      updatedAt: now(),
    }),
    OneRosterConnection: bindModel(OneRosterConnection, sequelize, 'oneroster_connections', {
      id: uuidPk(),
      tenantId: uuid(),
      baseUrl: text(),
      tokenUrl: text(),
      clientId: text(),
      clientSecret: { type: jsonObject().type, allowNull: false },
      scope: nullableText(),
      pageSize: integer(1000),
      syncEveryMinutes: nullableInteger(),
      lastSyncAt: nullableDate(),
      lastResult: nullableJson(),
      createdAt: now(),
      updatedAt: now(),
    }),
  };
}
