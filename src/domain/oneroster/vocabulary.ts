/**
 * The OneRoster words this import understands (1.1 and 1.2 CSV binding, 1.2 REST binding) and how
 * they map onto ours: an enrollment role becomes an LTI role short name (src/domain/privileges
 * catalogue), a file name becomes a record kind.
 */
export type OneRosterVersion = '1.1' | '1.2';
export type FileMode = 'bulk' | 'delta' | 'absent';

/** The files we read, in the order we read them (a user's roles before the user; classes and users before enrollments). */
export const IMPORTED_FILES = [
  'orgs',
  'academicSessions',
  'courses',
  'classes',
  'roles',
  'users',
  'enrollments',
] as const;
export type ImportedFile = (typeof IMPORTED_FILES)[number];

/** Enrollment (and user) roles of OneRoster 1.1 and 1.2 → LTI 1.3 context role short names. */
export const ROLE_TO_LTI: Record<string, string> = {
  teacher: 'Instructor',
  student: 'Learner',
  aide: 'TeachingAssistant',
  proctor: 'TeachingAssistant',
  administrator: 'Administrator',
  districtAdministrator: 'Administrator',
  siteAdministrator: 'Administrator',
  systemAdministrator: 'Administrator',
  principal: 'Administrator',
  counselor: 'Mentor',
  guardian: 'Mentor',
  parent: 'Mentor',
  relative: 'Mentor',
};
/** OneRoster role tokens compared case-insensitively (exports write `Teacher` as often as `teacher`). */
const ROLE_BY_LOWER = new Map(Object.keys(ROLE_TO_LTI).map((r) => [r.toLowerCase(), r]));
export const oneRosterRole = (raw: string): string | undefined => ROLE_BY_LOWER.get(raw.trim().toLowerCase());

/**
 * Columns that must be in a file's header, per version (the spec's required fields that we read).
 * Other columns are read by name when present and otherwise ignored.
 */
export const REQUIRED_COLUMNS: Record<OneRosterVersion, Record<ImportedFile, string[]>> = {
  '1.1': {
    orgs: ['sourcedId', 'name', 'type'],
    academicSessions: ['sourcedId', 'title', 'type', 'startDate', 'endDate', 'schoolYear'],
    courses: ['sourcedId', 'title', 'orgSourcedId'],
    classes: ['sourcedId', 'title', 'courseSourcedId', 'classType', 'schoolSourcedId', 'termSourcedIds'],
    roles: [],
    users: ['sourcedId', 'enabledUser', 'orgSourcedIds', 'role', 'username', 'givenName', 'familyName'],
    enrollments: ['sourcedId', 'classSourcedId', 'schoolSourcedId', 'userSourcedId', 'role'],
  },
  '1.2': {
    orgs: ['sourcedId', 'name', 'type'],
    academicSessions: ['sourcedId', 'title', 'type', 'startDate', 'endDate', 'schoolYear'],
    courses: ['sourcedId', 'title', 'orgSourcedId'],
    classes: ['sourcedId', 'title', 'courseSourcedId', 'classType', 'schoolSourcedId', 'termSourcedIds'],
    roles: ['sourcedId', 'userSourcedId', 'roleType', 'role', 'orgSourcedId'],
    users: ['sourcedId', 'enabledUser', 'username', 'givenName', 'familyName'],
    enrollments: ['sourcedId', 'classSourcedId', 'schoolSourcedId', 'userSourcedId', 'role'],
  },
};

/** Every file the 1.1 and 1.2 CSV bindings define; the ones we do not import are reported as ignored. */
export const KNOWN_FILES = new Set([
  'manifest',
  ...IMPORTED_FILES,
  'categories',
  'classResources',
  'courseResources',
  'demographics',
  'lineItems',
  'lineItemLearningObjectiveIds',
  'lineItemScoreScales',
  'resources',
  'results',
  'resultLearningObjectiveIds',
  'resultScoreScales',
  'scoreScales',
  'userProfiles',
  'userResources',
]);

export const ROSTERING_SCOPE = 'https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly';
