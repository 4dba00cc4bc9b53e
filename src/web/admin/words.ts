/**
 * Plain words for the school admin page: what a SCIM request did, what a status code means, why a
 * launch was refused, what an audit event was. Nothing here shows an id or a raw key.
 */

export function when(iso: string | null): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

const RESOURCE_WORDS: Record<string, { one: string; many: string }> = {
  Users: { one: 'a person', many: 'people' },
  Groups: { one: 'a group', many: 'groups' },
};

/** "Created a person", "Looked up people", "Bulk request (12 operations)", "Read the service configuration". */
export function scimRequestWords(
  method: string,
  resource: string,
  hasTarget: boolean,
  operations: number | null,
): string {
  if (resource === 'Bulk') return operations === null ? 'Bulk request' : `Bulk request (${operations} operations)`;
  const search = resource.endsWith('/.search');
  const base = search ? resource.slice(0, -'/.search'.length) : resource;
  const r = RESOURCE_WORDS[base];
  if (search) return `Searched ${r?.many ?? 'everything'}`;
  if (!r) {
    if (base === 'ServiceProviderConfig') return 'Read the service configuration';
    if (base === 'Schemas') return 'Read the schemas';
    if (base === 'ResourceTypes') return 'Read the resource types';
    if (base === 'Me') return 'Asked for /Me (not offered)';
    return `${method} ${base || 'the base URL'}`;
  }
  switch (method) {
    case 'GET':
      return hasTarget ? `Read ${r.one}` : `Looked up ${r.many}`;
    case 'POST':
      return `Created ${r.one}`;
    case 'PUT':
      return `Replaced ${r.one}`;
    case 'PATCH':
      return `Updated ${r.one}`;
    case 'DELETE':
      return `Deleted ${r.one}`;
    default:
      return `${method} ${r.many}`;
  }
}

const STATUS_WORDS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'Done',
  304: 'Not changed',
  400: 'Refused: the request was not valid',
  401: 'Refused: the token was not accepted',
  403: 'Refused: not allowed',
  404: 'Not found',
  409: 'Refused: already exists or conflicts',
  412: 'Refused: changed meanwhile',
  413: 'Refused: too large',
  429: 'Slowed down: too many requests',
  501: 'Not offered',
};

export function statusWords(status: number): string {
  return STATUS_WORDS[status] ?? (status < 400 ? 'OK' : status < 500 ? 'Refused' : 'Failed on our side');
}

export const PERSON_STATUS_WORDS: Record<string, string> = {
  provisioned: 'Sent by your identity provider, not signed in yet',
  active: 'Active',
  invited: 'Waiting for first sign-in',
  suspended: 'Suspended',
  deprovisioned: 'Left (deprovisioned)',
  merged: 'Merged into another person',
};

export const personStatusWord = (s: string) =>
  ({
    provisioned: 'provisioned',
    active: 'active',
    invited: 'waiting for first sign-in',
    suspended: 'suspended',
    deprovisioned: 'left',
    merged: 'merged',
  })[s] ?? s;

/** Why a launch was refused, by the check that refused it (lti/errors.ts LtiCheck). */
const CHECK_WORDS: Record<string, string> = {
  request: 'The launch form was incomplete',
  login: 'The login request from the LMS was incomplete',
  platform: 'This LMS is not registered',
  state: 'The sign-in was unknown, expired or used twice',
  browser: 'The browser was not the one that started the sign-in (blocked cookies?)',
  jwt: 'The LMS did not send a signed token',
  alg: 'The token was signed with the wrong algorithm',
  kid: 'The token did not name its signing key',
  signature: 'The signature did not match the LMS’s public keys',
  jwks: 'The LMS’s public keys could not be fetched',
  iss: 'The token came from another LMS than the sign-in',
  aud: 'The token was meant for another tool (client ID)',
  azp: 'The token named another tool as its party (azp)',
  exp: 'The token had expired (clock difference?)',
  iat: 'The token was issued too long ago or in the future',
  nonce: 'The token was replayed or not issued for this sign-in (nonce)',
  deployment: 'The LMS deployment is not registered here',
  message_type: 'The LMS sent a kind of launch this tool does not take',
  version: 'The LMS sent another LTI version than 1.3',
  target_link_uri: 'The launch pointed somewhere other than this tool',
  resource_link: 'The launch had no resource link',
  context: 'The course information was malformed',
  roles: 'The launch had no roles',
  sub: 'The person’s LMS id was malformed',
  deep_linking: 'Adding the tool to a course was refused',
  identity: 'Nobody here matches this person, and the LMS may not create people',
  person_inactive: 'The person is suspended or has left',
  seat_limit_reached: 'The school has no seats left',
  ticket: 'The sign-in ticket was unknown, expired or used',
  session: 'The session was not valid',
  registration: 'Registration failed',
  internal: 'Something went wrong on our side',
};

export const checkWords = (check: string | null) =>
  check ? (CHECK_WORDS[check] ?? `The “${check.replace(/_/g, ' ')}” check failed`) : '';

const ACTION_WORDS: Record<string, string> = {
  'admin.sign_in': 'signed in to the admin page',
  'admin.sign_out': 'signed out of the admin page',
  'token.create': 'created',
  'token.revoke': 'revoked',
  'tenant.create': 'created the school',
  'tenant.update': 'changed the school’s settings',
  'tenant.delete': 'deleted the school',
  'tenant.restore': 'restored the school',
  'tenant.import': 'imported the school',
  'tenant.wipe': 'wiped the school',
  'tenant.owner.set': 'named the owner',
  'tenant.owner.transfer': 'handed ownership to',
  'tenant.admin.add': 'made an admin:',
  'tenant.admin.remove': 'removed an admin:',
  'person.create': 'added',
  'person.update': 'updated',
  'person.adopt': 'matched a waiting person to the identity provider:',
  'person.deprovision': 'removed',
  'person.merge': 'merged',
  'person.link': 'linked an LMS sign-in to',
  'person.first_launch': 'first signed in:',
  'group.create': 'created',
  'group.update': 'updated',
  'group.delete': 'deleted',
  'course.create': 'created the course',
  'course.update': 'updated the course',
  'course.delete': 'deleted the course',
  'course.adopt': 'matched an LMS course to',
  'membership.set': 'set the course roles of',
  'course_membership.create': 'gave course roles to',
  'course_membership.update': 'changed the course roles of',
  'membership.remove': 'removed from a course:',
  'privileges.set': 'changed the privileges of',
  'privileges.revoke_all': 'revoked every privilege of',
  'group_privileges.set': 'changed the privileges of',
  'privilege.catalogue.add': 'added a privilege to the catalogue:',
  'privilege.role_defaults.set': 'changed what a role may do by default:',
  'invitation.create': 'invited',
  'invitation.resend': 'sent another invitation to',
  'invitation.accept': 'accepted an invitation:',
  'lti.platform.add': 'registered the LMS',
  'lti.platform.update': 'changed the LMS registration',
  'lti.deployment.add': 'added a deployment of the LMS',
  'lti.platform.frame_origin': 'noted a new address the tool is shown from, for',
  'lti.platform.frame_origin_forget': 'forgot an address the tool was shown from, for',
};

export const actionWords = (action: string) => ACTION_WORDS[action] ?? action.replace(/[._]/g, ' ');
