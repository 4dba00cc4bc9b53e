/**
 * LTI role vocabulary. Platforms send full URIs (membership#Instructor), the short form
 * ("Instructor", allowed by LTI 1.3 §A.2.3.1 for context roles), institution roles and unknown
 * URIs; we keep what was sent and classify by the last fragment.
 */
export const LIS_MEMBERSHIP = 'http://purl.imsglobal.org/vocab/lis/v2/membership#';

const ADMIN_LIKE = new Set([
  'Instructor',
  'Administrator',
  'ContentDeveloper',
  'TeachingAssistant',
  'Mentor#TeachingAssistant',
]);

/** "…/membership#Instructor" → "Instructor"; "…/membership/Instructor#TeachingAssistant" → "TeachingAssistant". */
export function roleName(role: string): string {
  const hash = role.lastIndexOf('#');
  if (hash >= 0) return role.slice(hash + 1);
  const slash = role.lastIndexOf('/');
  return slash >= 0 ? role.slice(slash + 1) : role;
}

/** Context (course) roles only: institution and system roles do not make someone a course admin. */
function isContextRole(role: string): boolean {
  return !role.includes('/') || role.startsWith('http://purl.imsglobal.org/vocab/lis/v2/membership');
}

/** Whether a launch with these roles goes to the course admin page rather than the learner landing page. */
export function isCourseStaff(roles: readonly string[]): boolean {
  return roles.some((r) => r !== '' && isContextRole(r) && ADMIN_LIKE.has(roleName(r)));
}

/** Roles as stored on a course membership: non-empty, deduplicated, in the order sent. */
export function membershipRoles(roles: readonly string[]): string[] {
  return [...new Set(roles.filter((r) => typeof r === 'string' && r.trim() !== ''))];
}
