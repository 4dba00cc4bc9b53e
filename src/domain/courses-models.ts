import type { CreationOptional, InferAttributes, InferCreationAttributes, NonAttribute, Sequelize } from 'sequelize';
import { Model } from 'sequelize';
import {
  bindModel,
  now,
  nullableDate,
  nullableText,
  nullableUuid,
  text,
  textArray,
  textWithDefault,
  uuid,
  uuidPk,
} from './model-kit.js';
import type { Person } from './people-models.js';
import type { GroupPrivilegeGrant, PrivilegeGrant } from './privilege-models.js';

/** A course; it exists before any launch (roster, API) or is created by one (LTI context). */
export class Course extends Model<InferAttributes<Course>, InferCreationAttributes<Course>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare title: string;
  declare externalKey: CreationOptional<string | null>;
  declare ltiPlatformId: CreationOptional<string | null>;
  declare ltiContextId: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;

  declare memberships?: NonAttribute<CourseMembership[]>;
  declare grants?: NonAttribute<PrivilegeGrant[]>;
  declare groupGrants?: NonAttribute<GroupPrivilegeGrant[]>;
}

export type MembershipStatus = 'active' | 'inactive';
export type MembershipSource = 'lti' | 'api' | 'bulk' | 'roster';

/** A person in a course, with their LTI role short names. */
export class CourseMembership extends Model<
  InferAttributes<CourseMembership>,
  InferCreationAttributes<CourseMembership>
> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare courseId: string;
  declare personId: string;
  declare roles: CreationOptional<string[]>;
  declare status: CreationOptional<MembershipStatus>;
  declare source: MembershipSource;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare course?: NonAttribute<Course>;
  declare person?: NonAttribute<Person>;
}

export function initCoursesModels(sequelize: Sequelize) {
  return {
    Course: bindModel(Course, sequelize, 'courses', {
      id: uuidPk(),
      tenantId: uuid(),
      title: text(),
      externalKey: nullableText(),
      ltiPlatformId: nullableUuid(),
      ltiContextId: nullableText(),
      createdAt: now(),
      updatedAt: now(),
      deletedAt: nullableDate(),
    }),
    CourseMembership: bindModel(CourseMembership, sequelize, 'course_memberships', {
      id: uuidPk(),
      tenantId: uuid(),
      courseId: uuid(),
      personId: uuid(),
      roles: textArray(),
      status: textWithDefault('active'),
      source: text(),
      createdAt: now(),
      updatedAt: now(),
    }),
  };
}
