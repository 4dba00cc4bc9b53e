import { DataTypes, type Model, type ModelStatic, type Optional, type Sequelize } from 'sequelize';

/**
 * Sequelize models, defined per Sequelize instance (not as global classes) so that a process can
 * hold two databases at once — tests do. Column names are snake_case in SQL, camelCase here.
 */
export interface TenantAttrs {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended';
  seatLimit: number | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}
export type TenantModel = Model<
  TenantAttrs,
  Optional<TenantAttrs, 'id' | 'status' | 'seatLimit' | 'createdAt' | 'updatedAt' | 'deletedAt'>
>;

export type TokenKind = 'scim' | 'admin';
export interface ApiTokenAttrs {
  id: string;
  tenantId: string;
  kind: TokenKind;
  name: string;
  tokenHash: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}
export type ApiTokenModel = Model<
  ApiTokenAttrs,
  Optional<ApiTokenAttrs, 'id' | 'createdAt' | 'expiresAt' | 'revokedAt' | 'lastUsedAt'>
>;

export interface AuditEventAttrs {
  id: number;
  tenantId: string;
  at: Date;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
}
export type AuditEventModel = Model<
  AuditEventAttrs,
  Optional<AuditEventAttrs, 'id' | 'at' | 'before' | 'after' | 'requestId'>
>;

export type PersonStatus = 'provisioned' | 'invited' | 'active' | 'suspended' | 'deprovisioned' | 'merged';
export type PersonSource = 'scim' | 'invite' | 'lti' | 'roster' | 'admin';
export interface PersonAttrs {
  id: string;
  tenantId: string;
  status: PersonStatus;
  userName: string | null;
  externalId: string | null;
  primaryEmail: string | null;
  givenName: string | null;
  familyName: string | null;
  displayName: string | null;
  active: boolean;
  source: PersonSource;
  scim: Record<string, unknown>;
  version: number;
  firstLaunchAt: Date | null;
  mergedInto: string | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}
export type PersonModel = Model<
  PersonAttrs,
  Optional<
    PersonAttrs,
    | 'id'
    | 'userName'
    | 'externalId'
    | 'primaryEmail'
    | 'givenName'
    | 'familyName'
    | 'displayName'
    | 'active'
    | 'scim'
    | 'version'
    | 'firstLaunchAt'
    | 'mergedInto'
    | 'createdAt'
    | 'updatedAt'
    | 'deletedAt'
  >
>;

export interface Models {
  Tenant: ModelStatic<TenantModel>;
  ApiToken: ModelStatic<ApiTokenModel>;
  AuditEvent: ModelStatic<AuditEventModel>;
  Person: ModelStatic<PersonModel>;
}

// Factories, not shared objects: Sequelize writes into each attribute definition it is given.
const uuidPk = () => ({ type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 });
const now = () => ({ type: DataTypes.DATE, allowNull: false, defaultValue: DataTypes.NOW });
const nullableDate = () => ({ type: DataTypes.DATE, allowNull: true });
const nullableText = () => ({ type: DataTypes.TEXT, allowNull: true });
const text = () => ({ type: DataTypes.TEXT, allowNull: false });

export function defineModels(sequelize: Sequelize): Models {
  const opts = { underscored: true, timestamps: false, freezeTableName: true };
  const Tenant = sequelize.define<TenantModel>(
    'tenants',
    {
      id: uuidPk(),
      slug: text(),
      name: text(),
      status: { ...text(), defaultValue: 'active' },
      seatLimit: { type: DataTypes.INTEGER, allowNull: true },
      createdAt: now(),
      updatedAt: now(),
      deletedAt: nullableDate(),
    },
    opts,
  );
  const ApiToken = sequelize.define<ApiTokenModel>(
    'api_tokens',
    {
      id: uuidPk(),
      tenantId: { type: DataTypes.UUID, allowNull: false },
      kind: text(),
      name: text(),
      tokenHash: text(),
      prefix: text(),
      createdAt: now(),
      expiresAt: nullableDate(),
      revokedAt: nullableDate(),
      lastUsedAt: nullableDate(),
    },
    opts,
  );
  const AuditEvent = sequelize.define<AuditEventModel>(
    'audit_events',
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      tenantId: { type: DataTypes.UUID, allowNull: false },
      at: now(),
      actor: text(),
      action: text(),
      targetType: text(),
      targetId: text(),
      before: { type: DataTypes.JSONB, allowNull: true },
      after: { type: DataTypes.JSONB, allowNull: true },
      requestId: nullableText(),
    },
    opts,
  );
  const Person = sequelize.define<PersonModel>(
    'people',
    {
      id: uuidPk(),
      tenantId: { type: DataTypes.UUID, allowNull: false },
      status: text(),
      userName: nullableText(),
      externalId: nullableText(),
      primaryEmail: nullableText(),
      givenName: nullableText(),
      familyName: nullableText(),
      displayName: nullableText(),
      active: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
      source: text(),
      scim: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
      version: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 1 },
      firstLaunchAt: nullableDate(),
      mergedInto: { type: DataTypes.UUID, allowNull: true },
      createdAt: now(),
      updatedAt: now(),
      deletedAt: nullableDate(),
    },
    opts,
  );
  return { Tenant, ApiToken, AuditEvent, Person };
}
