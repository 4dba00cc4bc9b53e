import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';
import { DataTypes, Model } from 'sequelize';
import {
  bindModel,
  integer,
  json,
  now,
  nullableDate,
  nullableText,
  text,
  textArray,
  uuid,
  uuidPk,
} from './model-kit.js';

/** Where a course's roster comes from (migrations/0080_roster_sync.sql). */
export class CourseRosterSource extends Model<
  InferAttributes<CourseRosterSource>,
  InferCreationAttributes<CourseRosterSource>
> {
  declare tenantId: string;
  declare courseId: string;
  declare platformId: string;
  declare membershipsUrl: string;
  declare serviceVersions: CreationOptional<string[]>;
  declare differencesUrl: CreationOptional<string | null>;
  declare lastFullSyncAt: CreationOptional<Date | null>;
  declare lastSyncAt: CreationOptional<Date | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export type RosterSyncStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type RosterSyncTrigger = 'launch' | 'api' | 'cli' | 'schedule';
export type RosterSyncMode = 'full' | 'differences';

export interface RosterProblem {
  userId: string;
  reason: string;
  message: string;
}

/** One roster sync of one course: queued, running, then succeeded or failed, with its counts. */
export class RosterSync extends Model<InferAttributes<RosterSync>, InferCreationAttributes<RosterSync>> {
  declare id: CreationOptional<string>;
  declare tenantId: string;
  declare courseId: string;
  declare trigger: RosterSyncTrigger;
  declare requestedBy: string;
  declare status: RosterSyncStatus;
  declare mode: CreationOptional<RosterSyncMode | null>;
  declare attempts: CreationOptional<number>;
  declare members: CreationOptional<number>;
  declare added: CreationOptional<number>;
  declare updated: CreationOptional<number>;
  declare ended: CreationOptional<number>;
  declare unchanged: CreationOptional<number>;
  declare errors: CreationOptional<number>;
  declare problems: CreationOptional<RosterProblem[]>;
  declare error: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare startedAt: CreationOptional<Date | null>;
  declare finishedAt: CreationOptional<Date | null>;
}

/** A tenant's roster schedule. */
export class RosterSyncSchedule extends Model<
  InferAttributes<RosterSyncSchedule>,
  InferCreationAttributes<RosterSyncSchedule>
> {
  declare tenantId: string;
  declare everyMinutes: number;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initRosterSyncModels(sequelize: Sequelize) {
  const uuidKey = () => ({ ...uuid(), primaryKey: true });
  return {
    CourseRosterSource: bindModel(CourseRosterSource, sequelize, 'course_roster_sources', {
      tenantId: uuidKey(),
      courseId: uuidKey(),
      platformId: uuid(),
      membershipsUrl: text(),
      serviceVersions: textArray(),
      differencesUrl: nullableText(),
      lastFullSyncAt: nullableDate(),
      lastSyncAt: nullableDate(),
      createdAt: now(),
      updatedAt: now(),
    }),
    RosterSync: bindModel(RosterSync, sequelize, 'roster_syncs', {
      id: uuidPk(),
      tenantId: uuid(),
      courseId: uuid(),
      trigger: text(),
      requestedBy: text(),
      status: text(),
      mode: nullableText(),
      attempts: integer(0),
      members: integer(0),
      added: integer(0),
      updated: integer(0),
      ended: integer(0),
      unchanged: integer(0),
      errors: integer(0),
      problems: { ...json(), defaultValue: [] },
      error: nullableText(),
      createdAt: now(),
      startedAt: nullableDate(),
      finishedAt: nullableDate(),
    }),
    RosterSyncSchedule: bindModel(RosterSyncSchedule, sequelize, 'roster_sync_schedules', {
      tenantId: uuidKey(),
      everyMinutes: { type: DataTypes.INTEGER, allowNull: false },
      createdAt: now(),
      updatedAt: now(),
    }),
  };
}
