import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import yazl from 'yazl';

/**
 * OneRoster CSV bundles for tests and the benchmark, generated rather than committed. The shape
 * follows the 1EdTech OneRoster 1.1 and 1.2 CSV bindings (columns in spec order, manifest.csv with
 * `oneroster.version` and `file.<name>` = bulk | delta | absent; 1.2 moves users' roles to roles.csv)
 * and the public samples built on them (e.g. SupremeLordCommander/OneRoster-CSV-Templates): a
 * district with a school, a school year with a term, a course, its classes, teachers, students, an
 * aide and a guardian, and their enrollments.
 */
export type Version = '1.1' | '1.2';
export type Mode = 'bulk' | 'delta';
export type Rows = string[][];

/** The users.csv columns both versions have, in this order (1.1 puts orgSourcedIds and role before them). */
const USER_DETAILS = [
  'username',
  'userIds',
  'givenName',
  'familyName',
  'middleName',
  'identifier',
  'email',
  'sms',
  'phone',
  'agentSourcedIds',
  'grades',
  'password',
] as const;

export const COLUMNS = {
  orgs: ['sourcedId', 'status', 'dateLastModified', 'name', 'type', 'identifier', 'parentSourcedId'],
  academicSessions: [
    'sourcedId',
    'status',
    'dateLastModified',
    'title',
    'type',
    'startDate',
    'endDate',
    'parentSourcedId',
    'schoolYear',
  ],
  courses: [
    'sourcedId',
    'status',
    'dateLastModified',
    'schoolYearSourcedId',
    'title',
    'courseCode',
    'grades',
    'orgSourcedId',
    'subjects',
    'subjectCodes',
  ],
  classes: [
    'sourcedId',
    'status',
    'dateLastModified',
    'title',
    'grades',
    'courseSourcedId',
    'classCode',
    'classType',
    'location',
    'schoolSourcedId',
    'termSourcedIds',
    'subjects',
    'subjectCodes',
    'periods',
  ],
  users11: ['sourcedId', 'status', 'dateLastModified', 'enabledUser', 'orgSourcedIds', 'role', ...USER_DETAILS],
  users12: [
    'sourcedId',
    'status',
    'dateLastModified',
    'enabledUser',
    ...USER_DETAILS,
    'userMasterIdentifier',
    'resourceSourcedIds',
    'preferredGivenName',
    'preferredMiddleName',
    'preferredFamilyName',
    'primaryOrgSourcedId',
    'pronouns',
  ],
  roles: [
    'sourcedId',
    'status',
    'dateLastModified',
    'userSourcedId',
    'roleType',
    'role',
    'beginDate',
    'endDate',
    'orgSourcedId',
    'userProfileSourcedId',
  ],
  enrollments: [
    'sourcedId',
    'status',
    'dateLastModified',
    'classSourcedId',
    'schoolSourcedId',
    'userSourcedId',
    'role',
    'primary',
    'beginDate',
    'endDate',
  ],
  demographics: ['sourcedId', 'status', 'dateLastModified', 'birthDate', 'sex'],
} as const;

export interface UserSpec {
  id: string;
  role: string;
  username: string;
  given: string;
  family: string;
  email?: string;
  userIds?: string;
  enabled?: boolean;
  status?: string;
}
export interface EnrollmentSpec {
  id: string;
  classId: string;
  userId: string;
  role: string;
  status?: string;
}

const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
export const csvLine = (cells: readonly string[]) => `${cells.map(csvCell).join(',')}\n`;
export const csv = (header: readonly string[], rows: Rows) => [header, ...rows].map(csvLine).join('');

/** users.csv's columns in `version` (1.2 moves users' roles to roles.csv). */
const usersColumns = (version: Version) => (version === '1.1' ? COLUMNS.users11 : COLUMNS.users12);

/** A row of `columns` with the given cells, and empty cells in the other columns. */
const rowOf = (columns: readonly string[], cells: Record<string, string>) => columns.map((c) => cells[c] ?? '');

export function userRow(version: Version, u: UserSpec): string[] {
  return rowOf(usersColumns(version), {
    sourcedId: u.id,
    status: u.status ?? '',
    enabledUser: u.enabled === false ? 'false' : 'true',
    orgSourcedIds: 'school-1', // 1.1 only (1.2 has the user's orgs and role in roles.csv)
    role: u.role, // 1.1 only
    primaryOrgSourcedId: 'school-1', // 1.2 only
    username: u.username,
    userIds: u.userIds ?? '',
    givenName: u.given,
    familyName: u.family,
    email: u.email ?? '',
  });
}
export const roleRow = (u: UserSpec): string[] => [
  `role-${u.id}`,
  u.status ?? '',
  '',
  u.id,
  'primary',
  u.role,
  '',
  '',
  'school-1',
  '',
];
export const enrollmentRow = (e: EnrollmentSpec): string[] => [
  e.id,
  e.status ?? '',
  '',
  e.classId,
  'school-1',
  e.userId,
  e.role,
  e.role === 'teacher' ? 'true' : 'false',
  '',
  '',
];
export const classRow = (id: string, title: string, status = ''): string[] => [
  id,
  status,
  '',
  title,
  '07',
  'course-1',
  id.toUpperCase(),
  'scheduled',
  'Room 1',
  'school-1',
  'term-1',
  'Mathematics',
  '',
  '1',
];

export const SAMPLE_USERS: UserSpec[] = [
  {
    id: 't1',
    role: 'teacher',
    username: 'jlee',
    given: 'Jordan',
    family: 'Lee',
    email: 'jordan.lee@lincoln.example.org',
    userIds: '{LDAP:jlee},{SIS:T100}',
  },
  {
    id: 's1',
    role: 'student',
    username: 'asmith',
    given: 'Avery',
    family: 'Smith',
    email: 'avery.smith@students.example.org',
    userIds: '{SIS:S2001}',
  },
  { id: 's2', role: 'student', username: 'bjones', given: 'Blake', family: 'Jones', userIds: '{SIS:S2002}' },
  {
    id: 's3',
    role: 'student',
    username: 'cdiaz',
    given: 'Cam',
    family: 'Diaz',
    email: 'cam.diaz@students.example.org',
  },
  { id: 'a1', role: 'aide', username: 'rkim', given: 'Robin', family: 'Kim', email: 'robin.kim@lincoln.example.org' },
  { id: 'g1', role: 'guardian', username: 'csmith', given: 'Casey', family: 'Smith', email: 'casey.smith@example.com' },
];
export const SAMPLE_ENROLLMENTS: EnrollmentSpec[] = [
  { id: 'e1', classId: 'class-1', userId: 't1', role: 'teacher' },
  { id: 'e2', classId: 'class-1', userId: 's1', role: 'student' },
  { id: 'e3', classId: 'class-1', userId: 's2', role: 'student' },
  { id: 'e4', classId: 'class-1', userId: 'a1', role: 'aide' },
  { id: 'e5', classId: 'class-1', userId: 'g1', role: 'guardian' },
  { id: 'e6', classId: 'class-2', userId: 't1', role: 'teacher' },
  { id: 'e7', classId: 'class-2', userId: 's3', role: 'student' },
  { id: 'e8', classId: 'class-2', userId: 's1', role: 'student' },
];

export interface BundleSpec {
  version: Version;
  /** file name without .csv → its mode and text (header included) */
  files: Record<string, { mode: Mode; text: string }>;
  /** files the manifest does not declare (demographics, a stray README…) */
  extra?: Record<string, string>;
  /** replaces the generated manifest.csv */
  manifest?: string;
}

const MANIFEST_FILES = [
  'academicSessions',
  'categories',
  'classes',
  'classResources',
  'courses',
  'courseResources',
  'demographics',
  'enrollments',
  'lineItems',
  'orgs',
  'resources',
  'results',
  'users',
  'roles',
];

export function manifestText(version: Version, modes: Record<string, Mode>): string {
  const rows: Rows = [
    ['manifest.version', '1.0'],
    ['oneroster.version', version],
    ...MANIFEST_FILES.filter((f) => f !== 'roles' || version === '1.2').map((f) => [`file.${f}`, modes[f] ?? 'absent']),
    ['source.systemName', 'Rosterbridge fixture SIS'],
    ['source.systemCode', 'fixture'],
  ];
  return csv(['propertyName', 'value'], rows);
}

/** A zip of the given files and a manifest that declares them. */
export function zipBundle(spec: BundleSpec): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const modes = Object.fromEntries(Object.entries(spec.files).map(([f, v]) => [f, v.mode]));
  zip.addBuffer(Buffer.from(spec.manifest ?? manifestText(spec.version, modes)), 'manifest.csv');
  for (const [name, file] of Object.entries(spec.files)) zip.addBuffer(Buffer.from(file.text), `${name}.csv`);
  for (const [name, text] of Object.entries(spec.extra ?? {})) zip.addBuffer(Buffer.from(text), name);
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** users.csv of `users`, in `mode`. */
const usersFile = (version: Version, mode: Mode, users: UserSpec[]) => {
  const rows = users.map((u) => userRow(version, u));
  return { mode, text: csv(usersColumns(version), rows) };
};
/** roles.csv (1.2) of `users`, in `mode`. */
const rolesFile = (mode: Mode, users: UserSpec[]) => ({ mode, text: csv(COLUMNS.roles, users.map(roleRow)) });

/** The sample school as a bulk bundle of either version. */
export function sampleFiles(
  version: Version,
  users: UserSpec[] = SAMPLE_USERS,
  enrollments: EnrollmentSpec[] = SAMPLE_ENROLLMENTS,
  classes: Rows = [classRow('class-1', 'Algebra I - Period 1'), classRow('class-2', 'Algebra I - Period 2')],
): BundleSpec['files'] {
  const files: BundleSpec['files'] = {
    orgs: {
      mode: 'bulk',
      text: csv(COLUMNS.orgs, [
        ['district-1', '', '', 'Springfield USD', 'district', 'SUSD', ''],
        ['school-1', '', '', 'Lincoln Middle School', 'school', 'LMS', 'district-1'],
      ]),
    },
    academicSessions: {
      mode: 'bulk',
      text: csv(COLUMNS.academicSessions, [
        ['year-2026', '', '', '2026-2027', 'schoolYear', '2026-08-15', '2027-06-05', '', '2027'],
        ['term-1', '', '', 'Fall 2026', 'semester', '2026-08-15', '2026-12-20', 'year-2026', '2027'],
      ]),
    },
    courses: {
      mode: 'bulk',
      text: csv(COLUMNS.courses, [
        ['course-1', '', '', 'year-2026', 'Algebra I', 'ALG1', '07', 'school-1', 'Mathematics', ''],
      ]),
    },
    classes: { mode: 'bulk', text: csv(COLUMNS.classes, classes) },
    users: usersFile(version, 'bulk', users),
    enrollments: { mode: 'bulk', text: csv(COLUMNS.enrollments, enrollments.map(enrollmentRow)) },
  };
  if (version === '1.2') files.roles = rolesFile('bulk', users);
  return files;
}

export const sampleBundle = (version: Version) =>
  zipBundle({ version, files: sampleFiles(version), extra: { 'demographics.csv': csv(COLUMNS.demographics, []) } });

/** A delta bundle: only the rows given, with their status (active or tobedeleted). */
export function deltaBundle(version: Version, parts: { users?: UserSpec[]; enrollments?: EnrollmentSpec[] }) {
  const files: BundleSpec['files'] = {};
  if (parts.users) {
    files.users = usersFile(version, 'delta', parts.users);
    if (version === '1.2') files.roles = rolesFile('delta', parts.users);
  }
  if (parts.enrollments)
    files.enrollments = { mode: 'delta', text: csv(COLUMNS.enrollments, parts.enrollments.map(enrollmentRow)) };
  return zipBundle({ version, files });
}

/**
 * A large bulk bundle written to `path` from generated streams (nothing big held in memory):
 * `users` people (one teacher per class, the rest students), `classes` classes, `enrollments`
 * enrollments spread evenly (each class its teacher, students round-robin).
 */
export async function writeLargeBundle(
  path: string,
  opts: { version?: Version; users: number; classes: number; enrollments: number },
): Promise<void> {
  const version = opts.version ?? '1.2';
  const zip = new yazl.ZipFile();
  const stream = (header: readonly string[], count: number, row: (i: number) => string[]) =>
    Readable.from(
      (function* () {
        yield csvLine(header);
        let chunk = '';
        for (let i = 0; i < count; i++) {
          chunk += csvLine(row(i));
          if (chunk.length > 64 * 1024) {
            yield chunk;
            chunk = '';
          }
        }
        if (chunk) yield chunk;
      })(),
    );
  const teachers = opts.classes;
  const students = opts.users - teachers;
  const user = (i: number): UserSpec => {
    const [role, given, sis] = i < teachers ? ['teacher', 'Teacher', 'T'] : ['student', 'Student', 'S'];
    return {
      id: `u${i}`,
      role,
      username: `${role}${i}`,
      given,
      family: `N${i}`,
      email: `${role}${i}@big.example.org`,
      userIds: `{SIS:${sis}${i}}`,
    };
  };
  const modes: Record<string, Mode> = {
    orgs: 'bulk',
    academicSessions: 'bulk',
    courses: 'bulk',
    classes: 'bulk',
    users: 'bulk',
    enrollments: 'bulk',
  };
  if (version === '1.2') modes.roles = 'bulk';
  zip.addBuffer(Buffer.from(manifestText(version, modes)), 'manifest.csv');
  zip.addBuffer(Buffer.from(sampleFiles(version).orgs.text), 'orgs.csv');
  zip.addBuffer(Buffer.from(sampleFiles(version).academicSessions.text), 'academicSessions.csv');
  zip.addBuffer(Buffer.from(sampleFiles(version).courses.text), 'courses.csv');
  zip.addReadStream(
    stream(COLUMNS.classes, opts.classes, (i) => classRow(`class-${i}`, `Class ${i}`)),
    'classes.csv',
  );
  zip.addReadStream(
    stream(usersColumns(version), opts.users, (i) => userRow(version, user(i))),
    'users.csv',
  );
  if (version === '1.2')
    zip.addReadStream(
      stream(COLUMNS.roles, opts.users, (i) => roleRow(user(i))),
      'roles.csv',
    );
  zip.addReadStream(
    stream(COLUMNS.enrollments, opts.enrollments, (i) => {
      if (i < teachers) return enrollmentRow({ id: `e${i}`, classId: `class-${i}`, userId: `u${i}`, role: 'teacher' });
      const k = i - teachers;
      return enrollmentRow({
        id: `e${i}`,
        classId: `class-${k % opts.classes}`,
        userId: `u${teachers + ((k * 7919) % students)}`,
        role: 'student',
      });
    }),
    'enrollments.csv',
  );
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(path);
    zip.outputStream.pipe(out).on('close', resolve).on('error', reject);
  });
}
