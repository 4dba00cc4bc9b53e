import type { CreationOptional, InferAttributes, InferCreationAttributes, NonAttribute, Sequelize } from 'sequelize';
import { Model } from 'sequelize';
import {
  bindModel,
  integer,
  jsonObject,
  now,
  nullableDate,
  nullableJson,
  nullableText,
  text,
  uuid,
  uuidPk,
} from './model-kit.js';
import type { GroupPrivilegeGrant } from './privilege-models.js';

/** A SCIM group; its members are people or other groups. */
export class Group extends Model<InferAttributes<Group>, InferCreationAttributes<Group>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare displayName: string;
  declare externalId: CreationOptional<string | null>;
  declare scim: CreationOptional<Record<string, unknown>>;
  declare version: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;

  declare members?: NonAttribute<GroupMember[]>;
  declare grants?: NonAttribute<GroupPrivilegeGrant[]>;
}

export type GroupMemberType = 'person' | 'group';

/** A membership edge; `memberId` names a person or a group (no foreign key: it is either). */
export class GroupMember extends Model<InferAttributes<GroupMember>, InferCreationAttributes<GroupMember>> {
  declare tenantId: string;
  declare groupId: string;
  declare memberType: GroupMemberType;
  declare memberId: string;
  declare createdAt: CreationOptional<Date>;
  // sub-attributes of the membership no schema models, round-tripped (migrations/0010_scim.sql)
  declare scim: CreationOptional<Record<string, unknown> | null>;

  declare group?: NonAttribute<Group>;
}

export function initGroupsModels(sequelize: Sequelize) {
  return {
    Group: bindModel(Group, sequelize, 'groups', {
      id: uuidPk(),
      tenantId: uuid(),
      displayName: text(),
      externalId: nullableText(),
      scim: jsonObject(),
      version: integer(1),
      createdAt: now(),
      updatedAt: now(),
      deletedAt: nullableDate(),
    }),
    GroupMember: bindModel(GroupMember, sequelize, 'group_members', {
      tenantId: { ...uuid(), primaryKey: true },
      groupId: { ...uuid(), primaryKey: true },
      memberType: { ...text(), primaryKey: true },
      memberId: { ...uuid(), primaryKey: true },
      createdAt: now(),
      scim: nullableJson(),
    }),
  };
}
