import { ScimError } from './errors.js';

/**
 * The SCIM schemas this server supports (RFC 7643 §4, §8.7.1), as data. Discovery publishes them,
 * request bodies are normalised against them (attribute names are case-insensitive, §2.1), and the
 * filter and attribute whitelists derive from them, so what /Schemas says is what the code does.
 */
export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  enterprise: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
  bulkRequest: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
  bulkResponse: 'urn:ietf:params:scim:api:messages:2.0:BulkResponse',
  spConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

export type AttrType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';
export interface AttrDef {
  name: string;
  type: AttrType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: AttrDef[];
  referenceTypes?: string[];
  canonicalValues?: string[];
}
export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttrDef[];
}

type Opts = Partial<Omit<AttrDef, 'name' | 'type' | 'description'>>;
const attr = (name: string, type: AttrType, description: string, o: Opts = {}): AttrDef => ({
  name,
  type,
  multiValued: false,
  description,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...o,
});
const str = (name: string, description: string, o: Opts = {}) => attr(name, 'string', description, o);

/** The sub-attributes every multi-valued attribute shares (RFC 7643 §2.4). */
const multi = (
  name: string,
  description: string,
  types: string[],
  extra: AttrDef[] = [],
  valueType: AttrType = 'string',
) =>
  attr(name, 'complex', description, {
    multiValued: true,
    subAttributes: [
      // RFC 7643 §7: a reference names what it points at; a photo is a URL anywhere.
      attr('value', valueType, `The ${name} value`, valueType === 'reference' ? { referenceTypes: ['external'] } : {}),
      str('display', 'A human-readable name, primarily used for display purposes'),
      str('type', 'A label indicating the function', { canonicalValues: types }),
      attr('primary', 'boolean', 'Indicates the primary or preferred value'),
      ...extra,
    ],
  });

const ref = (description: string, referenceTypes: string[], o: Opts = {}) =>
  attr('$ref', 'reference', description, { referenceTypes, ...o });

export const userSchema: SchemaDef = {
  id: URN.user,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', 'Unique identifier for the User, case-insensitive', { required: true, uniqueness: 'server' }),
    attr('name', 'complex', "The components of the user's real name", {
      subAttributes: [
        str('formatted', 'The full name'),
        str('familyName', 'The family name'),
        str('givenName', 'The given name'),
        str('middleName', 'The middle name(s)'),
        str('honorificPrefix', 'The honorific prefix(es)'),
        str('honorificSuffix', 'The honorific suffix(es)'),
      ],
    }),
    str('displayName', 'The name of the User, suitable for display to end-users'),
    str('nickName', 'The casual way to address the user'),
    attr('profileUrl', 'reference', "A fully qualified URL pointing to the User's online profile", {
      referenceTypes: ['external'],
    }),
    str('title', "The user's title, such as 'Vice President'"),
    str('userType', 'Used to identify the relationship between the organization and the user'),
    str('preferredLanguage', "The User's preferred written or spoken language"),
    str('locale', "The User's default location for localizing"),
    str('timezone', "The User's time zone in IANA format"),
    attr('active', 'boolean', "The User's administrative status; false suspends the person"),
    str('password', 'Write-only; accepted and never stored in clear or returned', {
      mutability: 'writeOnly',
      returned: 'never',
    }),
    multi('emails', 'Email addresses for the user', ['work', 'home', 'other']),
    multi('phoneNumbers', 'Phone numbers for the User', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multi('ims', 'Instant messaging addresses for the User', [
      'aim',
      'gtalk',
      'icq',
      'xmpp',
      'msn',
      'skype',
      'qq',
      'yahoo',
    ]),
    multi('photos', 'URLs of photos of the User', ['photo', 'thumbnail'], [], 'reference'),
    attr('addresses', 'complex', 'A physical mailing address for this User', {
      multiValued: true,
      subAttributes: [
        str('formatted', 'The full mailing address'),
        str('streetAddress', 'The full street address component'),
        str('locality', 'The city or locality component'),
        str('region', 'The state or region component'),
        str('postalCode', 'The zip code or postal code component'),
        str('country', 'The country name component'),
        str('type', 'A label indicating the function', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', 'Indicates the primary address'),
      ],
    }),
    attr('groups', 'complex', 'Groups the user belongs to, directly or indirectly', {
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: [
        str('value', 'The identifier of the Group', { mutability: 'readOnly' }),
        ref('The URI of the Group', ['Group'], { mutability: 'readOnly' }),
        str('display', 'The displayName of the Group', { mutability: 'readOnly' }),
        str('type', 'direct or indirect', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
      ],
    }),
    multi('entitlements', 'Entitlements for the User', []),
    multi('roles', 'Roles for the User', []),
  ],
};

export const enterpriseSchema: SchemaDef = {
  id: URN.enterprise,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber', 'Numeric or alphanumeric identifier assigned to a person'),
    str('costCenter', 'Identifies the name of a cost center'),
    str('organization', 'Identifies the name of an organization'),
    str('division', 'Identifies the name of a division'),
    str('department', 'Identifies the name of a department'),
    attr('manager', 'complex', "The User's manager", {
      subAttributes: [
        str('value', 'The id of the SCIM resource representing the manager'),
        ref('The URI of the manager', ['User']),
        str('displayName', 'The displayName of the manager', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

export const groupSchema: SchemaDef = {
  id: URN.group,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', 'A human-readable name for the Group', { required: true }),
    attr('members', 'complex', 'A list of members of the Group (people and groups)', {
      multiValued: true,
      subAttributes: [
        str('value', 'Identifier of the member of this Group', { mutability: 'immutable' }),
        ref('The URI of the member resource', ['User', 'Group'], { mutability: 'immutable' }),
        str('display', 'The displayName of the member', { mutability: 'readOnly' }),
        str('type', 'The type of the member', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
      ],
    }),
  ],
};

/** Attributes of every resource (RFC 7643 §3.1); not part of any schema's attribute list. */
export const commonAttributes: AttrDef[] = [
  str('id', 'Unique identifier assigned by the service provider', {
    caseExact: true,
    mutability: 'readOnly',
    returned: 'always',
    uniqueness: 'server',
  }),
  str('externalId', 'Identifier assigned by the provisioning client', { caseExact: true }),
  attr('meta', 'complex', 'Resource metadata', {
    mutability: 'readOnly',
    subAttributes: [
      str('resourceType', 'The name of the resource type', { caseExact: true, mutability: 'readOnly' }),
      attr('created', 'dateTime', 'When the resource was added', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', 'When the resource was last updated', { mutability: 'readOnly' }),
      attr('location', 'reference', 'The URI of the resource', { mutability: 'readOnly', referenceTypes: ['uri'] }),
      str('version', 'The weak ETag of the resource', { caseExact: true, mutability: 'readOnly' }),
    ],
  }),
];

export const allSchemas = [userSchema, enterpriseSchema, groupSchema];

export type ResourceKind = 'User' | 'Group';
export const resourceSchemas: Record<ResourceKind, { core: SchemaDef; extensions: SchemaDef[] }> = {
  User: { core: userSchema, extensions: [enterpriseSchema] },
  Group: { core: groupSchema, extensions: [] },
};

/** Looks an attribute up by name, case-insensitively, in a list of definitions. */
export function findAttr(defs: AttrDef[] | undefined, name: string): AttrDef | undefined {
  const lower = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === lower);
}

/**
 * Rewrites a resource body's attribute names to their canonical spelling (`"Primary"` → `"primary"`,
 * `"name.FamilyName"` never occurs in bodies, but `"NAME"` does), recursively, and drops
 * read-only attributes a client must not set. Unknown attributes are kept as sent: they round-trip.
 */
export function normalizeResource(kind: ResourceKind, body: Record<string, unknown>): Record<string, unknown> {
  const { core, extensions } = resourceSchemas[kind];
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const ext = extensions.find((e) => e.id.toLowerCase() === key.toLowerCase());
    if (ext) {
      if (value && typeof value === 'object' && !Array.isArray(value))
        out[ext.id] = normalizeAttrs(ext.attributes, value as Record<string, unknown>);
      continue;
    }
    const common = findAttr(commonAttributes, key);
    if (common) {
      if (common.name === 'externalId') out.externalId = value;
      continue; // id and meta are the server's
    }
    if (key.toLowerCase() === 'schemas') continue;
    const def = findAttr(core.attributes, key);
    if (!def) {
      out[key] = value;
      continue;
    }
    if (def.mutability === 'readOnly') continue;
    out[def.name] = normalizeValue(def, value);
  }
  return out;
}

function normalizeAttrs(defs: AttrDef[], obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const def = findAttr(defs, key);
    if (def?.mutability === 'readOnly' && def.name !== 'display' && def.name !== 'displayName') continue;
    out[def ? def.name : key] = def ? normalizeValue(def, value) : value;
  }
  return out;
}

export function normalizeValue(def: AttrDef, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  // A bare value stands for {value} only where the attribute has a value sub-attribute.
  const hasValue = Boolean(findAttr(def.subAttributes, 'value'));
  if (def.multiValued && def.type === 'complex') {
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? normalizeAttrs(def.subAttributes ?? [], v as Record<string, unknown>)
        : hasValue
          ? { value: v }
          : v,
    );
  }
  if (def.type === 'complex') {
    // Single-valued complex attributes arrive in three shapes (Entra's manager: "id", {value},
    // [{$ref, value}]); all mean the same object.
    const one = Array.isArray(value) ? value[0] : value;
    if (one === null || one === undefined) return null;
    if (typeof one !== 'object') return hasValue ? { value: one } : value;
    return normalizeAttrs(def.subAttributes ?? [], one as Record<string, unknown>);
  }
  if (def.type === 'boolean') return coerceBoolean(value);
  return value;
}

/** IdPs send booleans as strings ("True", "False"): accept those, leave anything else for validation. */
export function coerceBoolean(value: unknown): unknown {
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return value;
}

/**
 * Type checks the attributes a schema knows (RFC 7643 §2.3); unknown attributes pass untouched.
 * Throws 400 invalidValue naming the attribute, so a bad body is never a 500.
 */
export function checkTypes(kind: ResourceKind, doc: Record<string, unknown>): void {
  const { core, extensions } = resourceSchemas[kind];
  checkAttrs(core.attributes, doc, '');
  for (const ext of extensions) {
    const v = doc[ext.id];
    if (v === undefined) continue;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw typeError(ext.id, 'an object');
    checkAttrs(ext.attributes, v as Record<string, unknown>, `${ext.id}:`);
  }
}

function typeError(path: string, expected: string) {
  return new ScimError(400, 'invalidValue', `"${path}" must be ${expected}`);
}

function checkAttrs(defs: AttrDef[], obj: Record<string, unknown>, prefix: string) {
  for (const def of defs) {
    const v = obj[def.name];
    if (v === undefined || v === null) continue;
    const path = prefix + def.name;
    if (def.multiValued) {
      if (!Array.isArray(v)) throw typeError(path, 'an array');
      v.forEach((el, i) => checkOne(def, el, `${path}[${i}]`));
    } else {
      checkOne(def, v, path);
    }
  }
}

function checkOne(def: AttrDef, v: unknown, path: string) {
  if (v === null || v === undefined) return;
  switch (def.type) {
    case 'complex':
      if (typeof v !== 'object' || Array.isArray(v)) throw typeError(path, 'an object');
      checkAttrs(def.subAttributes ?? [], v as Record<string, unknown>, `${path}.`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') throw typeError(path, 'a boolean');
      return;
    case 'integer':
    case 'decimal':
      if (typeof v !== 'number') throw typeError(path, 'a number');
      return;
    default:
      if (typeof v !== 'string') throw typeError(path, 'a string');
  }
}
