import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';
import { DataTypes, Model } from 'sequelize';
import {
  bindModel,
  boolean,
  date,
  now,
  nullableDate,
  nullableInteger,
  nullableText,
  nullableUuid,
  serialPk,
  text,
  textArray,
  uuid,
  uuidPk,
} from './model-kit.js';

/** A tenant admin signed in to /app/admin (migrations/0100_admin_page.sql); only the secret's hash is kept. */
export class AdminSession extends Model<InferAttributes<AdminSession>, InferCreationAttributes<AdminSession>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare secretHash: string;
  declare via: 'token' | 'lti';
  declare tokenId: string | null;
  declare personId: string | null;
  declare createdAt: CreationOptional<Date>;
  declare expiresAt: Date;
  declare endedAt: CreationOptional<Date | null>;
}

/** One SCIM request as the provisioning log keeps it: no bodies, no filters, no tokens. */
export class ProvisioningLogEntry extends Model<
  InferAttributes<ProvisioningLogEntry>,
  InferCreationAttributes<ProvisioningLogEntry>
> {
  declare id: CreationOptional<number>;
  declare tenantId: string;
  declare at: CreationOptional<Date>;
  declare method: string;
  declare resource: string;
  declare targetId: string | null;
  declare operations: number | null;
  declare status: number;
  declare detail: string | null;
  declare tokenId: string | null;
  declare requestId: string | null;
}

/** One LTI launch, successful or refused (with the check that refused it). */
export class LaunchLogEntry extends Model<InferAttributes<LaunchLogEntry>, InferCreationAttributes<LaunchLogEntry>> {
  declare id: CreationOptional<number>;
  declare tenantId: string;
  declare at: CreationOptional<Date>;
  declare platformId: string | null;
  declare deploymentId: string | null;
  declare ok: boolean;
  declare failedCheck: string | null;
  declare detail: string | null;
  declare personId: string | null;
  declare courseId: string | null;
  declare roles: CreationOptional<string[]>;
  declare requestId: string | null;
}

export function initAdminSessionModels(sequelize: Sequelize) {
  return {
    AdminSession: bindModel(AdminSession, sequelize, 'admin_sessions', {
      id: uuidPk(),
      tenantId: uuid(),
      secretHash: text(),
      via: text(),
      tokenId: nullableUuid(),
      personId: nullableUuid(),
      createdAt: now(),
      expiresAt: date(),
      endedAt: nullableDate(),
    }),
    ProvisioningLogEntry: bindModel(ProvisioningLogEntry, sequelize, 'provisioning_log', {
      id: serialPk(),
      tenantId: uuid(),
      at: now(),
      method: text(),
      resource: text(),
      targetId: nullableText(),
      operations: nullableInteger(),
      status: { type: DataTypes.INTEGER, allowNull: false },
      detail: nullableText(),
      tokenId: nullableUuid(),
      requestId: nullableText(),
    }),
    LaunchLogEntry: bindModel(LaunchLogEntry, sequelize, 'launch_log', {
      id: serialPk(),
      tenantId: uuid(),
      at: now(),
      platformId: nullableUuid(),
      deploymentId: nullableText(),
      ok: boolean(false),
      failedCheck: nullableText(),
      detail: nullableText(),
      personId: nullableUuid(),
      courseId: nullableUuid(),
      roles: textArray(),
      requestId: nullableText(),
    }),
  };
}
