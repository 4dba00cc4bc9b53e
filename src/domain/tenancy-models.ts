import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';
import { DataTypes, Model } from 'sequelize';
import {
  bindModel,
  integer,
  jsonObject,
  now,
  nullableDate,
  nullableInteger,
  nullableJson,
  nullableText,
  nullableUuid,
  serialPk,
  text,
  textWithDefault,
  uuid,
  uuidPk,
} from './model-kit.js';

/** A school: every other row belongs to one (migrations/0001_foundation.sql). */
export class Tenant extends Model<InferAttributes<Tenant>, InferCreationAttributes<Tenant>> {
  declare id: CreationOptional<string>;
  declare slug: string;
  declare name: string;
  declare status: CreationOptional<'active' | 'suspended'>;
  declare seatLimit: CreationOptional<number | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;
}

export type TokenKind = 'scim' | 'admin';

/** A bearer token; only its hash is stored. */
export class ApiToken extends Model<InferAttributes<ApiToken>, InferCreationAttributes<ApiToken>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare kind: TokenKind;
  declare name: string;
  declare tokenHash: string;
  declare prefix: string;
  declare createdAt: CreationOptional<Date>;
  declare expiresAt: CreationOptional<Date | null>;
  declare revokedAt: CreationOptional<Date | null>;
  declare lastUsedAt: CreationOptional<Date | null>;
}

/** One audited change, written in the transaction of the change itself. */
export class AuditEvent extends Model<InferAttributes<AuditEvent>, InferCreationAttributes<AuditEvent>> {
  // bigserial; connect.ts parses int8 as a number
  declare id: CreationOptional<number>;
  declare tenantId: string;
  declare at: CreationOptional<Date>;
  declare actor: string;
  declare action: string;
  declare targetType: string;
  declare targetId: string;
  declare before: unknown;
  declare after: unknown;
  declare requestId: CreationOptional<string | null>;
}

/** What an operator did to a whole tenant; outlives the tenant (migrations/0050_operator_audit.sql). */
export class OperatorAuditEvent extends Model<
  InferAttributes<OperatorAuditEvent>,
  InferCreationAttributes<OperatorAuditEvent>
> {
  declare id: CreationOptional<number>;
  declare at: CreationOptional<Date>;
  declare actor: string;
  declare action: string;
  declare targetTenantId: string;
  declare targetTenantSlug: string;
  declare detail: CreationOptional<Record<string, unknown>>;
}

export type TenantAdminRole = 'owner' | 'admin';

/** The tenant's owner or an admin: a person of the tenant or a named operator (migrations/0060_tenant_admins.sql). */
export class TenantAdmin extends Model<InferAttributes<TenantAdmin>, InferCreationAttributes<TenantAdmin>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare role: TenantAdminRole;
  declare personId: CreationOptional<string | null>;
  declare operator: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/** A rate limiter's budget for one key in the current window (migrations/0061_rate_limits.sql). */
export class RateLimitCounter extends Model<
  InferAttributes<RateLimitCounter>,
  InferCreationAttributes<RateLimitCounter>
> {
  declare key: string;
  declare points: CreationOptional<number>;
  declare expire: number | null;
}

export function initTenancyModels(sequelize: Sequelize) {
  return {
    Tenant: bindModel(Tenant, sequelize, 'tenants', {
      id: uuidPk(),
      slug: text(),
      name: text(),
      status: textWithDefault('active'),
      seatLimit: nullableInteger(),
      createdAt: now(),
      updatedAt: now(),
      deletedAt: nullableDate(),
    }),
    ApiToken: bindModel(ApiToken, sequelize, 'api_tokens', {
      id: uuidPk(),
      tenantId: uuid(),
      kind: text(),
      name: text(),
      tokenHash: text(),
      prefix: text(),
      createdAt: now(),
      expiresAt: nullableDate(),
      revokedAt: nullableDate(),
      lastUsedAt: nullableDate(),
    }),
    AuditEvent: bindModel(AuditEvent, sequelize, 'audit_events', {
      id: serialPk(),
      tenantId: uuid(),
      at: now(),
      actor: text(),
      action: text(),
      targetType: text(),
      targetId: text(),
      before: nullableJson(),
      after: nullableJson(),
      requestId: nullableText(),
    }),
    TenantAdmin: bindModel(TenantAdmin, sequelize, 'tenant_admins', {
      id: uuidPk(),
      tenantId: uuid(),
      role: text(),
      personId: nullableUuid(),
      operator: nullableText(),
      createdAt: now(),
      updatedAt: now(),
    }),
    RateLimitCounter: bindModel(RateLimitCounter, sequelize, 'rate_limits', {
      key: { type: DataTypes.STRING(255), primaryKey: true, allowNull: false },
      points: integer(0),
      expire: { type: DataTypes.BIGINT, allowNull: true },
    }),
    OperatorAuditEvent: bindModel(OperatorAuditEvent, sequelize, 'operator_audit_events', {
      id: serialPk(),
      at: now(),
      actor: text(),
      action: text(),
      targetTenantId: uuid(),
      targetTenantSlug: text(),
      detail: jsonObject(),
    }),
  };
}
