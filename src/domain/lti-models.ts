import type { CreationOptional, InferAttributes, InferCreationAttributes, NonAttribute, Sequelize } from 'sequelize';
import { Model } from 'sequelize';
import {
  bindModel,
  boolean,
  date,
  json,
  now,
  nullableDate,
  nullableText,
  text,
  textArray,
  textPk,
  textWithDefault,
  uuid,
  uuidPk,
} from './model-kit.js';
import type { IdentityLink } from './people-models.js';

/** A platform registration of one tenant (migrations/0020_lti.sql). */
export class LtiPlatform extends Model<InferAttributes<LtiPlatform>, InferCreationAttributes<LtiPlatform>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare issuer: string;
  declare clientId: string;
  declare authLoginUrl: string;
  declare authTokenUrl: string;
  declare jwksUrl: string;
  declare trustEmail: CreationOptional<boolean>;
  declare jitCreate: CreationOptional<boolean>;
  declare identityClaim: CreationOptional<string>;
  /** Origins its signed launches named as where the tool is shown (migrations/0132). */
  declare frameOrigins: CreationOptional<string[]>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;

  declare deployments?: NonAttribute<LtiDeployment[]>;
  declare identityLinks?: NonAttribute<IdentityLink[]>;
}

/** (issuer, clientId, deploymentId) names exactly one tenant. */
export class LtiDeployment extends Model<InferAttributes<LtiDeployment>, InferCreationAttributes<LtiDeployment>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare platformId: string;
  declare issuer: string;
  declare clientId: string;
  declare deploymentId: string;
  declare createdAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;

  declare platform?: NonAttribute<LtiPlatform>;
}

/** An OIDC login state: single use, short-lived; no tenant is known yet. */
export class LtiState extends Model<InferAttributes<LtiState>, InferCreationAttributes<LtiState>> {
  declare stateHash: string;
  declare nonce: string;
  declare issuer: string;
  declare clientId: string;
  declare deploymentHint: CreationOptional<string | null>;
  declare targetLinkUri: string;
  declare storageTarget: CreationOptional<string | null>;
  declare authOrigin: string;
  declare browserHash: string;
  declare createdAt: CreationOptional<Date>;
  declare expiresAt: Date;
  declare usedAt: CreationOptional<Date | null>;
}

/** A nonce seen in an accepted launch (per issuer). */
export class LtiNonce extends Model<InferAttributes<LtiNonce>, InferCreationAttributes<LtiNonce>> {
  declare issuer: string;
  declare nonce: string;
  declare expiresAt: Date;
}

/** A redeemed launch ticket, which makes it single use. */
export class LtiTicket extends Model<InferAttributes<LtiTicket>, InferCreationAttributes<LtiTicket>> {
  declare ticketHash: string;
  declare tenantId: string;
  declare session: unknown;
  declare redirectTo: string;
  declare stateCheck: CreationOptional<string | null>;
  declare expiresAt: Date;
  declare usedAt: CreationOptional<Date | null>;
}

/** One of the tool's own RSA key pairs. */
export class ToolKey extends Model<InferAttributes<ToolKey>, InferCreationAttributes<ToolKey>> {
  declare kid: string;
  declare status: 'active' | 'retiring';
  declare publicJwk: Record<string, unknown>;
  declare privateJwk: Record<string, unknown>;
  declare createdAt: CreationOptional<Date>;
  declare retireAfter: CreationOptional<Date | null>;
}

/** A one-time dynamic registration link. */
export class LtiRegistrationLink extends Model<
  InferAttributes<LtiRegistrationLink>,
  InferCreationAttributes<LtiRegistrationLink>
> {
  declare tokenHash: string;
  declare tenantId: string;
  declare createdAt: CreationOptional<Date>;
  declare expiresAt: Date;
  declare usedAt: CreationOptional<Date | null>;
}

export function initLtiModels(sequelize: Sequelize) {
  return {
    LtiPlatform: bindModel(LtiPlatform, sequelize, 'lti_platforms', {
      id: uuidPk(),
      tenantId: uuid(),
      issuer: text(),
      clientId: text(),
      authLoginUrl: text(),
      authTokenUrl: text(),
      jwksUrl: text(),
      trustEmail: boolean(false),
      jitCreate: boolean(false),
      identityClaim: textWithDefault('lis.person_sourcedid'),
      frameOrigins: textArray(),
      createdAt: now(),
      updatedAt: now(),
      deletedAt: nullableDate(),
    }),
    LtiDeployment: bindModel(LtiDeployment, sequelize, 'lti_deployments', {
      id: uuidPk(),
      tenantId: uuid(),
      platformId: uuid(),
      issuer: text(),
      clientId: text(),
      deploymentId: text(),
      createdAt: now(),
      deletedAt: nullableDate(),
    }),
    LtiState: bindModel(LtiState, sequelize, 'lti_states', {
      stateHash: textPk(),
      nonce: text(),
      issuer: text(),
      clientId: text(),
      deploymentHint: nullableText(),
      targetLinkUri: text(),
      storageTarget: nullableText(),
      authOrigin: text(),
      browserHash: text(),
      createdAt: now(),
      expiresAt: date(),
      usedAt: nullableDate(),
    }),
    LtiNonce: bindModel(LtiNonce, sequelize, 'lti_nonces', {
      issuer: textPk(),
      nonce: textPk(),
      expiresAt: date(),
    }),
    LtiTicket: bindModel(LtiTicket, sequelize, 'lti_tickets', {
      ticketHash: textPk(),
      tenantId: uuid(),
      session: json(),
      redirectTo: text(),
      stateCheck: nullableText(),
      expiresAt: date(),
      usedAt: nullableDate(),
    }),
    ToolKey: bindModel(ToolKey, sequelize, 'tool_keys', {
      kid: textPk(),
      status: text(),
      publicJwk: json(),
      privateJwk: json(),
      createdAt: now(),
      retireAfter: nullableDate(),
    }),
    LtiRegistrationLink: bindModel(LtiRegistrationLink, sequelize, 'lti_registration_links', {
      tokenHash: textPk(),
      tenantId: uuid(),
      createdAt: now(),
      expiresAt: date(),
      usedAt: nullableDate(),
    }),
  };
}
