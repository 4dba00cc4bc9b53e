import { createHash } from 'node:crypto';
import { isValidEmail } from '../person-reference.js';
import { type ImportedFile, type OneRosterVersion, oneRosterRole, ROLE_TO_LTI } from './vocabulary.js';

/**
 * One OneRoster row, read by column name and checked field by field, becomes a staged record (or
 * line errors). The CSV reader and the REST reader both hand rows here, so both map the same way.
 */
export interface LineError {
  file: string;
  line: number;
  column: string | null;
  message: string;
}

export type RecordStatus = 'active' | 'tobedeleted';
interface Base {
  line: number;
  sourcedId: string;
  status: RecordStatus;
  digest: string;
}
export interface StagedOther extends Base {
  kind: 'org' | 'academicSession' | 'course';
  title: string;
}
export interface StagedClass extends Base {
  title: string;
  courseSourcedId: string;
}
export interface StagedUser extends Base {
  enabled: boolean;
  username: string | null;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  identifiers: string[];
  roles: string[];
}
export interface StagedEnrollment extends Base {
  classSourcedId: string;
  userSourcedId: string;
  role: string;
}
export interface StagedRole extends Base {
  userSourcedId: string;
  role: string;
}
export type Staged =
  | { file: 'orgs' | 'academicSessions' | 'courses'; record: StagedOther }
  | { file: 'classes'; record: StagedClass }
  | { file: 'users'; record: StagedUser }
  | { file: 'enrollments'; record: StagedEnrollment }
  | { file: 'roles'; record: StagedRole };

/** A row's fields by column name (CSV header or REST property), already trimmed; missing = undefined. */
export type Fields = (column: string) => string | undefined;

const digestOf = (values: unknown[]) => createHash('sha1').update(JSON.stringify(values)).digest('base64url');

const MAX_FIELD = 1024;
const USER_IDS = /\{([^:{}]*):([^{}]*)\}/g;

/** `{type:identifier},{type:identifier}` (1.1 and 1.2 CSV) → the identifiers. */
export function parseUserIds(raw: string): string[] | null {
  const ids = [...raw.matchAll(USER_IDS)].map((m) => m[2].trim()).filter(Boolean);
  const rest = raw.replace(USER_IDS, '').replace(/[\s,]/g, '');
  return rest ? null : ids;
}

const OTHER_KIND = { orgs: 'org', academicSessions: 'academicSession', courses: 'course' } as const;
const TITLE_COLUMN = { orgs: 'name', academicSessions: 'title', courses: 'title' } as const;

/**
 * Checks and normalises one row. Required values follow the spec for records that stay
 * (`status` blank or active); a `tobedeleted` row needs only its sourcedId.
 */
export function readRecord(
  file: ImportedFile,
  version: OneRosterVersion,
  fields: Fields,
  line: number,
  errors: LineError[],
  name = `${file}.csv`,
): Staged | null {
  const before = errors.length;
  const fail = (column: string | null, message: string) => errors.push({ file: name, line, column, message });
  const get = (column: string): string => {
    const v = fields(column) ?? '';
    if (v.length > MAX_FIELD) fail(column, `longer than ${MAX_FIELD} characters`);
    return v;
  };
  const sourcedId = get('sourcedId');
  if (!sourcedId) fail('sourcedId', 'required');
  const rawStatus = get('status');
  const status =
    rawStatus === '' || /^active$/i.test(rawStatus)
      ? 'active'
      : /^tobedeleted$/i.test(rawStatus)
        ? 'tobedeleted'
        : null;
  if (!status) fail('status', `"${rawStatus}" is not active or tobedeleted`);
  const live = status === 'active';
  const required = (column: string): string => {
    const v = get(column);
    if (live && !v) fail(column, 'required');
    return v;
  };

  let staged: Staged;
  switch (file) {
    case 'orgs':
    case 'academicSessions':
    case 'courses': {
      const title = required(TITLE_COLUMN[file]);
      const extra =
        file === 'orgs'
          ? [get('type'), get('parentSourcedId')]
          : file === 'courses'
            ? [get('orgSourcedId'), get('courseCode'), get('schoolYearSourcedId')]
            : [get('type'), get('startDate'), get('endDate'), get('schoolYear'), get('parentSourcedId')];
      staged = {
        file,
        record: {
          kind: OTHER_KIND[file],
          line,
          sourcedId,
          status: status ?? 'active',
          title,
          digest: digestOf([title, ...extra]),
        },
      };
      break;
    }
    case 'classes': {
      const title = required('title');
      const courseSourcedId = required('courseSourcedId');
      const extra = [get('classCode'), get('schoolSourcedId'), get('classType'), get('termSourcedIds')];
      staged = {
        file,
        record: {
          line,
          sourcedId,
          status: status ?? 'active',
          title,
          courseSourcedId,
          digest: digestOf([title, courseSourcedId, ...extra]),
        },
      };
      break;
    }
    case 'users': {
      const enabledRaw = required('enabledUser');
      const enabled = /^true$/i.test(enabledRaw);
      if (enabledRaw && !enabled && !/^false$/i.test(enabledRaw))
        fail('enabledUser', `"${enabledRaw}" is not true or false`);
      const username = required('username') || null;
      const givenName = required('givenName') || null;
      const familyName = required('familyName') || null;
      const emailRaw = get('email');
      const email = emailRaw ? emailRaw.toLowerCase() : null;
      if (email && !isValidEmail(email)) fail('email', `"${emailRaw}" is not an email address`);
      const idsRaw = get('userIds');
      const identifiers = idsRaw ? parseUserIds(idsRaw) : [];
      if (identifiers === null) fail('userIds', 'expected a list of {type:identifier}');
      const roles: string[] = [];
      if (version === '1.1') {
        const roleRaw = required('role');
        if (roleRaw) {
          const role = oneRosterRole(roleRaw);
          if (!role) fail('role', `"${roleRaw}" is not a OneRoster role`);
          else roles.push(role);
        }
        if (live && !get('orgSourcedIds')) fail('orgSourcedIds', 'required');
      }
      staged = {
        file,
        record: {
          line,
          sourcedId,
          status: status ?? 'active',
          enabled,
          username,
          email,
          givenName,
          familyName,
          identifiers: identifiers ?? [],
          roles,
          digest: '',
        },
      };
      break;
    }
    case 'roles': {
      const userSourcedId = required('userSourcedId');
      const roleRaw = required('role');
      const role = roleRaw ? oneRosterRole(roleRaw) : undefined;
      if (roleRaw && !role) fail('role', `"${roleRaw}" is not a OneRoster role`);
      const roleType = required('roleType');
      if (roleType && !/^(primary|secondary)$/i.test(roleType))
        fail('roleType', `"${roleType}" is not primary or secondary`);
      required('orgSourcedId');
      staged = {
        file,
        record: { line, sourcedId, status: status ?? 'active', userSourcedId, role: role ?? '', digest: '' },
      };
      break;
    }
    case 'enrollments': {
      const classSourcedId = required('classSourcedId');
      const userSourcedId = required('userSourcedId');
      const roleRaw = required('role');
      const role = roleRaw ? oneRosterRole(roleRaw) : undefined;
      if (roleRaw && !role)
        fail('role', `"${roleRaw}" is not an enrollment role (${Object.keys(ROLE_TO_LTI).join(', ')})`);
      const primary = get('primary');
      if (primary && !/^(true|false)$/i.test(primary)) fail('primary', `"${primary}" is not true or false`);
      required('schoolSourcedId');
      const lti = role ? ROLE_TO_LTI[role] : '';
      staged = {
        file,
        record: {
          line,
          sourcedId,
          status: status ?? 'active',
          classSourcedId,
          userSourcedId,
          role: lti,
          digest: digestOf([classSourcedId, userSourcedId, lti]),
        },
      };
      break;
    }
  }
  return errors.length === before ? staged : null;
}

/**
 * A user's digest covers what we map (names, keys, email, enabled). Their OneRoster roles are read
 * and checked but map nothing (memberships take their roles from enrollments), so a delta without
 * roles.csv does not count as a change.
 */
export function digestUser(u: StagedUser): string {
  return digestOf([u.enabled, u.username, u.email, u.givenName, u.familyName, u.identifiers]);
}
