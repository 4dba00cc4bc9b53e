import type { CreationOptional, InferAttributes, InferCreationAttributes, NonAttribute, Sequelize } from 'sequelize';
import { Model } from 'sequelize';
import type { Course } from './courses-models.js';
import type { Group } from './groups-models.js';
import { bindModel, now, text, textWithDefault, uuid, uuidPk } from './model-kit.js';
import type { Person } from './people-models.js';

/** A privilege key a tenant knows (seeded per tenant by migrations/0030_privileges.sql). */
export class PrivilegeCatalogueEntry extends Model<
  InferAttributes<PrivilegeCatalogueEntry>,
  InferCreationAttributes<PrivilegeCatalogueEntry>
> {
  declare tenantId: string;
  declare key: string;
  declare description: CreationOptional<string>;
  declare createdAt: CreationOptional<Date>;
}

/** An LTI role short name implies a privilege. */
export class RolePrivilegeDefault extends Model<
  InferAttributes<RolePrivilegeDefault>,
  InferCreationAttributes<RolePrivilegeDefault>
> {
  declare tenantId: string;
  declare role: string;
  declare privilege: string;
}

export type GrantEffect = 'allow' | 'deny';

/** One (course, person, privilege) grant; the person's external keys travel with it by association. */
export class PrivilegeGrant extends Model<InferAttributes<PrivilegeGrant>, InferCreationAttributes<PrivilegeGrant>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare courseId: string;
  declare personId: string;
  declare privilege: string;
  declare effect: GrantEffect;
  declare grantedBy: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare person?: NonAttribute<Person>;
  declare course?: NonAttribute<Course>;
}

/** One (course, group, privilege) grant, inherited by the group's members. */
export class GroupPrivilegeGrant extends Model<
  InferAttributes<GroupPrivilegeGrant>,
  InferCreationAttributes<GroupPrivilegeGrant>
> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare courseId: string;
  declare groupId: string;
  declare privilege: string;
  declare effect: GrantEffect;
  declare grantedBy: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare group?: NonAttribute<Group>;
  declare course?: NonAttribute<Course>;
}

export function initPrivilegeModels(sequelize: Sequelize) {
  const grant = () => ({
    id: uuidPk(),
    tenantId: uuid(),
    courseId: uuid(),
    privilege: text(),
    effect: text(),
    grantedBy: text(),
    createdAt: now(),
    updatedAt: now(),
  });
  return {
    PrivilegeCatalogueEntry: bindModel(PrivilegeCatalogueEntry, sequelize, 'privilege_catalogue', {
      tenantId: { ...uuid(), primaryKey: true },
      key: { ...text(), primaryKey: true },
      description: textWithDefault(''),
      createdAt: now(),
    }),
    RolePrivilegeDefault: bindModel(RolePrivilegeDefault, sequelize, 'role_privilege_defaults', {
      tenantId: { ...uuid(), primaryKey: true },
      role: { ...text(), primaryKey: true },
      privilege: { ...text(), primaryKey: true },
    }),
    PrivilegeGrant: bindModel(PrivilegeGrant, sequelize, 'privilege_grants', { ...grant(), personId: uuid() }),
    GroupPrivilegeGrant: bindModel(GroupPrivilegeGrant, sequelize, 'group_privilege_grants', {
      ...grant(),
      groupId: uuid(),
    }),
  };
}
