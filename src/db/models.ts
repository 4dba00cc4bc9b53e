import type { InferAttributes, ModelStatic, Sequelize } from 'sequelize';
import {
  type AdminSession,
  initAdminSessionModels,
  type LaunchLogEntry,
  type ProvisioningLogEntry,
} from '../domain/admin-session-models.js';
import { type Course, type CourseMembership, initCoursesModels } from '../domain/courses-models.js';
import { type Group, type GroupMember, initGroupsModels } from '../domain/groups-models.js';
import { initInvitationsModels, type Invitation, type OutboxMessage } from '../domain/invitations-models.js';
import {
  initLtiModels,
  type LtiDeployment,
  type LtiNonce,
  type LtiPlatform,
  type LtiRegistrationLink,
  type LtiState,
  type LtiTicket,
  type ToolKey,
} from '../domain/lti-models.js';
import {
  initOneRosterModels,
  type OneRosterConnection,
  type OneRosterEnrollment,
  type OneRosterImport,
  type OneRosterRecord,
} from '../domain/oneroster/oneroster-models.js';
import { type IdentityLink, initPeopleModels, type Person, type PersonEmail } from '../domain/people-models.js';
import {
  type GroupPrivilegeGrant,
  initPrivilegeModels,
  type PrivilegeCatalogueEntry,
  type PrivilegeGrant,
  type RolePrivilegeDefault,
} from '../domain/privilege-models.js';
import {
  type CourseRosterSource,
  initRosterSyncModels,
  type RosterSync,
  type RosterSyncSchedule,
} from '../domain/roster-sync-models.js';
import {
  type ApiToken,
  type AuditEvent,
  initTenancyModels,
  type OperatorAuditEvent,
  type RateLimitCounter,
  type Tenant,
  type TenantAdmin,
} from '../domain/tenancy-models.js';
import {
  initWebhooksModels,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEvent,
} from '../domain/webhooks-models.js';

/**
 * The models of one Sequelize instance, one per table of migrations/ (umzug's own meta table
 * aside), and their associations. Defined per instance, not bound once globally, so that a
 * process can hold two databases at once — tests do. Each model lives beside the domain it serves.
 */
export interface Models {
  Tenant: ModelStatic<Tenant>;
  ApiToken: ModelStatic<ApiToken>;
  AuditEvent: ModelStatic<AuditEvent>;
  OperatorAuditEvent: ModelStatic<OperatorAuditEvent>;
  TenantAdmin: ModelStatic<TenantAdmin>;
  RateLimitCounter: ModelStatic<RateLimitCounter>;
  Person: ModelStatic<Person>;
  PersonEmail: ModelStatic<PersonEmail>;
  IdentityLink: ModelStatic<IdentityLink>;
  Group: ModelStatic<Group>;
  GroupMember: ModelStatic<GroupMember>;
  Course: ModelStatic<Course>;
  CourseMembership: ModelStatic<CourseMembership>;
  PrivilegeCatalogueEntry: ModelStatic<PrivilegeCatalogueEntry>;
  RolePrivilegeDefault: ModelStatic<RolePrivilegeDefault>;
  PrivilegeGrant: ModelStatic<PrivilegeGrant>;
  GroupPrivilegeGrant: ModelStatic<GroupPrivilegeGrant>;
  Invitation: ModelStatic<Invitation>;
  OutboxMessage: ModelStatic<OutboxMessage>;
  LtiPlatform: ModelStatic<LtiPlatform>;
  LtiDeployment: ModelStatic<LtiDeployment>;
  LtiState: ModelStatic<LtiState>;
  LtiNonce: ModelStatic<LtiNonce>;
  LtiTicket: ModelStatic<LtiTicket>;
  ToolKey: ModelStatic<ToolKey>;
  LtiRegistrationLink: ModelStatic<LtiRegistrationLink>;
  WebhookEndpoint: ModelStatic<WebhookEndpoint>;
  WebhookEvent: ModelStatic<WebhookEvent>;
  WebhookDelivery: ModelStatic<WebhookDelivery>;
  WebhookAttempt: ModelStatic<WebhookAttempt>;
  AdminSession: ModelStatic<AdminSession>;
  ProvisioningLogEntry: ModelStatic<ProvisioningLogEntry>;
  LaunchLogEntry: ModelStatic<LaunchLogEntry>;
  CourseRosterSource: ModelStatic<CourseRosterSource>;
  RosterSync: ModelStatic<RosterSync>;
  RosterSyncSchedule: ModelStatic<RosterSyncSchedule>;
  OneRosterImport: ModelStatic<OneRosterImport>;
  OneRosterRecord: ModelStatic<OneRosterRecord>;
  OneRosterEnrollment: ModelStatic<OneRosterEnrollment>;
  OneRosterConnection: ModelStatic<OneRosterConnection>;
}

export function defineModels(sequelize: Sequelize): Models {
  const models: Models = {
    ...initTenancyModels(sequelize),
    ...initPeopleModels(sequelize),
    ...initGroupsModels(sequelize),
    ...initCoursesModels(sequelize),
    ...initPrivilegeModels(sequelize),
    ...initInvitationsModels(sequelize),
    ...initLtiModels(sequelize),
    ...initWebhooksModels(sequelize),
    ...initAdminSessionModels(sequelize),
    ...initRosterSyncModels(sequelize),
    ...initOneRosterModels(sequelize),
  };
  associate(models);
  return models;
}

/**
 * Associations follow the foreign keys of the migrations. The schema's composite keys
 * (tenant_id, id) are narrowed to the id column, which is unique on its own. `constraints: false`
 * because the migrations own the constraints. The privilege catalogue has no association: grants
 * reference it by (tenant_id, key), which a single-column association cannot express.
 */
function associate(m: Models): void {
  const fk = (foreignKey: string) => ({ foreignKey, constraints: false });

  m.Tenant.hasMany(m.ApiToken, fk('tenantId'));
  m.Tenant.hasMany(m.TenantAdmin, fk('tenantId'));
  m.TenantAdmin.belongsTo(m.Person, { ...fk('personId'), as: 'person' });
  m.Tenant.hasMany(m.AuditEvent, fk('tenantId'));
  m.Tenant.hasMany(m.Person, fk('tenantId'));
  m.Tenant.hasMany(m.Group, fk('tenantId'));
  m.Tenant.hasMany(m.Course, fk('tenantId'));
  m.Tenant.hasMany(m.LtiPlatform, fk('tenantId'));
  m.ApiToken.belongsTo(m.Tenant, { ...fk('tenantId'), as: 'tenant' });
  m.Person.belongsTo(m.Tenant, { ...fk('tenantId'), as: 'tenant' });

  m.Person.hasMany(m.PersonEmail, { ...fk('personId'), as: 'emails' });
  m.Person.hasMany(m.IdentityLink, { ...fk('personId'), as: 'identityLinks' });
  m.Person.hasMany(m.CourseMembership, { ...fk('personId'), as: 'memberships' });
  m.Person.hasMany(m.PrivilegeGrant, { ...fk('personId'), as: 'grants' });
  m.Person.hasMany(m.Invitation, { ...fk('personId'), as: 'invitations' });
  m.Person.belongsTo(m.Person, { ...fk('mergedInto'), as: 'mergedIntoPerson' });
  m.PersonEmail.belongsTo(m.Person, { ...fk('personId'), as: 'person' });
  m.IdentityLink.belongsTo(m.Person, { ...fk('personId'), as: 'person' });
  m.IdentityLink.belongsTo(m.LtiPlatform, { ...fk('platformId'), as: 'platform' });
  m.Invitation.belongsTo(m.Person, { ...fk('personId'), as: 'person' });

  m.Course.hasMany(m.CourseMembership, { ...fk('courseId'), as: 'memberships' });
  m.Course.hasMany(m.PrivilegeGrant, { ...fk('courseId'), as: 'grants' });
  m.Course.hasMany(m.GroupPrivilegeGrant, { ...fk('courseId'), as: 'groupGrants' });
  m.CourseMembership.belongsTo(m.Course, { ...fk('courseId'), as: 'course' });
  m.CourseMembership.belongsTo(m.Person, { ...fk('personId'), as: 'person' });

  m.Group.hasMany(m.GroupMember, { ...fk('groupId'), as: 'members' });
  m.Group.hasMany(m.GroupPrivilegeGrant, { ...fk('groupId'), as: 'grants' });
  m.GroupMember.belongsTo(m.Group, { ...fk('groupId'), as: 'group' });

  m.PrivilegeGrant.belongsTo(m.Person, { ...fk('personId'), as: 'person' });
  m.PrivilegeGrant.belongsTo(m.Course, { ...fk('courseId'), as: 'course' });
  m.GroupPrivilegeGrant.belongsTo(m.Group, { ...fk('groupId'), as: 'group' });
  m.GroupPrivilegeGrant.belongsTo(m.Course, { ...fk('courseId'), as: 'course' });

  m.LtiPlatform.belongsTo(m.Tenant, { ...fk('tenantId'), as: 'tenant' });
  m.LtiPlatform.hasMany(m.LtiDeployment, { ...fk('platformId'), as: 'deployments' });
  m.LtiPlatform.hasMany(m.IdentityLink, { ...fk('platformId'), as: 'identityLinks' });
  m.LtiDeployment.belongsTo(m.LtiPlatform, { ...fk('platformId'), as: 'platform' });

  m.Course.hasOne(m.CourseRosterSource, { ...fk('courseId'), as: 'rosterSource' });
  m.Course.hasMany(m.RosterSync, { ...fk('courseId'), as: 'rosterSyncs' });
  m.CourseRosterSource.belongsTo(m.Course, { ...fk('courseId'), as: 'course' });
  m.CourseRosterSource.belongsTo(m.LtiPlatform, { ...fk('platformId'), as: 'platform' });
  m.RosterSync.belongsTo(m.Course, { ...fk('courseId'), as: 'course' });
  m.RosterSyncSchedule.belongsTo(m.Tenant, { ...fk('tenantId'), as: 'tenant' });
}

// The names the existing call sites use, now derived from the model classes.
export type { TokenKind } from '../domain/tenancy-models.js';
export type { PersonSource, PersonStatus } from '../domain/people-models.js';
export type TenantAttrs = InferAttributes<Tenant>;
export type ApiTokenAttrs = InferAttributes<ApiToken>;
export type AuditEventAttrs = InferAttributes<AuditEvent>;
export type PersonAttrs = InferAttributes<Person>;
export type TenantModel = Tenant;
export type ApiTokenModel = ApiToken;
export type AuditEventModel = AuditEvent;
export type PersonModel = Person;
