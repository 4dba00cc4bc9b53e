import type { CreationOptional, InferAttributes, InferCreationAttributes, NonAttribute, Sequelize } from 'sequelize';
import { Model } from 'sequelize';
import type { CourseMembership } from './courses-models.js';
import type { Invitation } from './invitations-models.js';
import type { LtiPlatform } from './lti-models.js';
import {
  bindModel,
  boolean,
  integer,
  jsonObject,
  now,
  nullableDate,
  nullableText,
  nullableUuid,
  text,
  uuid,
  uuidPk,
} from './model-kit.js';
import type { PrivilegeGrant } from './privilege-models.js';

export type PersonStatus = 'provisioned' | 'invited' | 'active' | 'suspended' | 'deprovisioned' | 'merged';
export type PersonSource = 'scim' | 'invite' | 'lti' | 'roster' | 'admin';

/**
 * A person exists before any login does; grants and memberships point here and reach the
 * person's external keys (externalId, userName, emails, identity links) by association.
 */
export class Person extends Model<InferAttributes<Person>, InferCreationAttributes<Person>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare status: PersonStatus;
  declare userName: CreationOptional<string | null>;
  declare externalId: CreationOptional<string | null>;
  declare primaryEmail: CreationOptional<string | null>;
  declare givenName: CreationOptional<string | null>;
  declare familyName: CreationOptional<string | null>;
  declare displayName: CreationOptional<string | null>;
  declare active: CreationOptional<boolean>;
  declare source: PersonSource;
  declare scim: CreationOptional<Record<string, unknown>>;
  declare version: CreationOptional<number>;
  declare firstLaunchAt: CreationOptional<Date | null>;
  declare mergedInto: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;

  declare emails?: NonAttribute<PersonEmail[]>;
  declare identityLinks?: NonAttribute<IdentityLink[]>;
  declare memberships?: NonAttribute<CourseMembership[]>;
  declare grants?: NonAttribute<PrivilegeGrant[]>;
  declare invitations?: NonAttribute<Invitation[]>;
}

/** One of a person's (multi-valued, SCIM) email addresses. */
export class PersonEmail extends Model<InferAttributes<PersonEmail>, InferCreationAttributes<PersonEmail>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare personId: string;
  declare value: string;
  // GENERATED ALWAYS AS (lower(value)): read it, never write it
  declare valueLower: CreationOptional<string | null>;
  declare type: CreationOptional<string | null>;
  declare isPrimary: CreationOptional<boolean>;
  declare position: CreationOptional<number>;

  declare person?: NonAttribute<Person>;
}

export type MatchedBy = 'claim' | 'email' | 'jit' | 'roster';

/** The login identity: one platform user (sub) is one person, and never two. */
export class IdentityLink extends Model<InferAttributes<IdentityLink>, InferCreationAttributes<IdentityLink>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare personId: string;
  declare platformId: string;
  declare sub: string;
  declare matchedBy: MatchedBy;
  declare createdAt: CreationOptional<Date>;
  declare lastLaunchAt: CreationOptional<Date>;

  declare person?: NonAttribute<Person>;
  declare platform?: NonAttribute<LtiPlatform>;
}

export function initPeopleModels(sequelize: Sequelize) {
  return {
    Person: bindModel(Person, sequelize, 'people', {
      id: uuidPk(),
      tenantId: uuid(),
      status: text(),
      userName: nullableText(),
      externalId: nullableText(),
      primaryEmail: nullableText(),
      givenName: nullableText(),
      familyName: nullableText(),
      displayName: nullableText(),
      active: boolean(true),
      source: text(),
      scim: jsonObject(),
      version: integer(1),
      firstLaunchAt: nullableDate(),
      mergedInto: nullableUuid(),
      createdAt: now(),
      updatedAt: now(),
      deletedAt: nullableDate(),
    }),
    PersonEmail: bindModel(PersonEmail, sequelize, 'person_emails', {
      id: uuidPk(),
      tenantId: uuid(),
      personId: uuid(),
      value: text(),
      valueLower: nullableText(),
      type: nullableText(),
      isPrimary: boolean(false),
      position: integer(0),
    }),
    IdentityLink: bindModel(IdentityLink, sequelize, 'identity_links', {
      id: uuidPk(),
      tenantId: uuid(),
      personId: uuid(),
      platformId: uuid(),
      sub: text(),
      matchedBy: text(),
      createdAt: now(),
      lastLaunchAt: now(),
    }),
  };
}
