import fc from 'fast-check';

/**
 * Generators for what hostile or broken clients send: SCIM filters from the grammar with every
 * part allowed to go wrong, PATCH and Bulk bodies, JSON of any shape, odd Unicode, huge strings
 * and deep nesting.
 */
export const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '',
    '"',
    '\\',
    '\u0000',
    '\uD800',
    '\uFFFF',
    '%',
    '_',
    "'; DROP TABLE people; --",
    '$1',
    '::uuid',
    'a'.repeat(2_000),
    '𝒜𝓁𝒾𝒸ℯ',
    'Ǆ\u0301\u200d',
    '../../etc/passwd',
    '{{7*7}}',
  ),
);

const attrPath = fc.oneof(
  fc.constantFrom(
    'userName',
    'id',
    'externalId',
    'displayName',
    'active',
    'name.givenName',
    'name.familyName',
    'emails',
    'emails.value',
    'emails.type',
    'emails.primary',
    'meta.created',
    'meta.lastModified',
    'members',
    'members.value',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
    'manager',
    'groups.display',
  ),
  fc.string({ maxLength: 12 }),
);
const compareOp = fc.oneof(
  fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'EQ', 'Co'),
  fc.string({ maxLength: 3 }),
);
const literal = fc.oneof(
  oddString.map((s) => JSON.stringify(s)),
  fc.constantFrom('true', 'false', 'null', '0', '-1', '1e309', '"2026-01-01T00:00:00Z"', 'NaN', '"'),
  fc.integer().map(String),
);

const { expr: filterExpr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(attrPath, compareOp, literal).map(([a, o, v]) => `${a} ${o} ${v}`),
    attrPath.map((a) => `${a} pr`),
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or', 'AND', 'xor'), tie('expr')).map(([l, o, r]) => `${l} ${o} ${r}`),
    tie('expr').map((e) => `not (${e})`),
    tie('expr').map((e) => `(${e})`),
    fc.tuple(attrPath, tie('expr')).map(([a, e]) => `${a}[${e}]`),
  ),
}));

/** Mostly grammar-shaped filters, some plain noise. */
export const scimFilter = fc.oneof({ weight: 4, arbitrary: filterExpr }, { weight: 1, arbitrary: oddString });

export const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3 }).map((v) => v as unknown),
);

const patchOp = fc.record(
  {
    op: fc.oneof(fc.constantFrom('add', 'replace', 'remove', 'Add', 'REPLACE'), oddString),
    path: fc.oneof(
      attrPath,
      filterExpr.map((e) => `emails[${e}].value`),
      oddString,
    ),
    value: anyJson,
  },
  { requiredKeys: [] },
);

/** Operations a real IdP sends, with odd values: they reach the write path instead of the parser. */
const plausibleOp = fc.oneof(
  oddString.map((v) => ({ op: 'replace', path: 'displayName', value: v })),
  fc.boolean().map((v) => ({ op: 'replace', path: 'active', value: v })),
  oddString.map((v) => ({ op: 'add', path: 'name.givenName', value: v })),
  fc.emailAddress().map((v) => ({ op: 'add', path: 'emails', value: [{ value: v, type: 'work' }] })),
  oddString.map((v) => ({ op: 'replace', value: { displayName: v, title: v } })),
  fc
    .constantFrom('title', 'nickName', 'emails[type eq "work"]', 'name.middleName')
    .map((p) => ({ op: 'remove', path: p })),
  oddString.map((v) => ({
    op: 'replace',
    path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department',
    value: v,
  })),
);

export const patchBody = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      schemas: fc.constant(['urn:ietf:params:scim:api:messages:2.0:PatchOp']),
      Operations: fc.array(plausibleOp, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      schemas: fc.oneof(fc.constant(['urn:ietf:params:scim:api:messages:2.0:PatchOp']), anyJson),
      Operations: fc.oneof(fc.array(patchOp, { maxLength: 6 }), anyJson),
    }),
  },
  { weight: 1, arbitrary: anyJson },
);

const bulkOp = fc.record(
  {
    method: fc.oneof(fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'GET'), oddString),
    path: fc.oneof(
      fc.constantFrom('/Users', '/Groups', '/Users/bulkId:a', '/Groups/00000000-0000-4000-8000-000000000000'),
      oddString,
    ),
    bulkId: fc.oneof(fc.constantFrom('a', 'b', 'c'), oddString),
    data: fc.oneof(
      fc.record({
        schemas: fc.constant(['urn:ietf:params:scim:schemas:core:2.0:User']),
        userName: oddString,
      }),
      fc.record({
        schemas: fc.constant(['urn:ietf:params:scim:schemas:core:2.0:Group']),
        displayName: oddString,
        members: fc.array(fc.record({ value: fc.oneof(fc.constantFrom('bulkId:a', 'bulkId:b'), oddString) }), {
          maxLength: 3,
        }),
      }),
      anyJson,
    ),
    version: oddString,
  },
  { requiredKeys: [] },
);

export const bulkBody = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      schemas: fc.oneof(fc.constant(['urn:ietf:params:scim:api:messages:2.0:BulkRequest']), anyJson),
      failOnErrors: fc.oneof(fc.integer({ min: -1, max: 3 }), anyJson),
      Operations: fc.oneof(fc.array(bulkOp, { maxLength: 5 }), anyJson),
    }),
  },
  { weight: 1, arbitrary: anyJson },
);

/** Raw request bodies that are not what the content type says: broken JSON, deep nesting, huge. */
export const rawBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 1, max: 20_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.integer({ min: 1, max: 5_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
  fc.integer({ min: 1, max: 3 }).map((n) => JSON.stringify({ userName: 'x'.repeat(n * 700_000) })),
  anyJson.map((v) => JSON.stringify(v) ?? 'undefined'),
  fc.constantFrom('{', '{"schemas":', 'null', '[]', '"\\ud800"', '{"a":1,"a":2}', '\uFEFF{}'),
);

/** A person reference as a course admin might type it, right or wrong. */
export const personRef = fc.oneof(
  fc.constantFrom(
    'email:a@b.example',
    'key:S-1',
    'email:',
    'key:',
    'email:not-an-email',
    '00000000-0000-4000-8000-000000000000',
  ),
  oddString.map((s) => `email:${s}`),
  oddString.map((s) => `key:${s}`),
  oddString,
);

/** Bodies for the privileges API's writes. */
export const grantsBody = fc.oneof(
  fc.record(
    {
      allow: fc.oneof(
        fc.array(fc.oneof(fc.constantFrom('grades.view', 'grades.edit', 'course.view'), oddString), { maxLength: 5 }),
        anyJson,
      ),
      deny: fc.oneof(fc.array(fc.oneof(fc.constantFrom('grades.edit'), oddString), { maxLength: 5 }), anyJson),
      extra: anyJson,
    },
    { requiredKeys: [] },
  ),
  anyJson,
);

export const enrolmentBody = fc.oneof(
  fc.record({
    rows: fc.array(
      fc.record(
        {
          email: fc.oneof(fc.emailAddress(), oddString),
          key: oddString,
          roles: fc.oneof(
            fc.array(fc.oneof(fc.constantFrom('Learner', 'Instructor'), oddString), { maxLength: 3 }),
            anyJson,
          ),
          allow: fc.oneof(fc.array(oddString, { maxLength: 3 }), anyJson),
          deny: anyJson,
        },
        { requiredKeys: [] },
      ),
      { maxLength: 8 },
    ),
  }),
  anyJson,
);

/** How an id_token is damaged: claims changed and re-signed with the real key, or bytes tampered after signing. */
export const claimMutation = fc.array(
  fc.tuple(
    fc.constantFrom(
      'iss',
      'aud',
      'sub',
      'exp',
      'iat',
      'nonce',
      'azp',
      'https://purl.imsglobal.org/spec/lti/claim/message_type',
      'https://purl.imsglobal.org/spec/lti/claim/version',
      'https://purl.imsglobal.org/spec/lti/claim/deployment_id',
      'https://purl.imsglobal.org/spec/lti/claim/roles',
      'https://purl.imsglobal.org/spec/lti/claim/context',
      'https://purl.imsglobal.org/spec/lti/claim/resource_link',
      'https://purl.imsglobal.org/spec/lti/claim/target_link_uri',
      'email',
      'name',
    ),
    fc.oneof(fc.constant(undefined), anyJson, oddString),
  ),
  { minLength: 1, maxLength: 4 },
);
export const headerMutation = fc.oneof(
  fc.constant(null),
  fc.record(
    {
      alg: fc.oneof(fc.constantFrom('RS256', 'none', 'HS256', 'ES256', 'RS512'), oddString),
      kid: fc.oneof(oddString, fc.constant(undefined)),
    },
    { requiredKeys: [] },
  ),
);
export const tamper = fc.record({
  part: fc.constantFrom(0, 1, 2),
  at: fc.nat(),
  char: fc.constantFrom('A', '_', '-', '.', '=', '+', '/', '', 'ë'),
});
