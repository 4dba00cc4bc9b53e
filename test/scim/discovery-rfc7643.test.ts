import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { startScim, type ScimClient } from './client.js';

/**
 * /Schemas and /ResourceTypes checked against RFC 7643 §7 (attribute characteristics) and §6
 * (resource types), so a strict client library can read our discovery: every reference attribute
 * names its referenceTypes, characteristics use only the defined values, sub-attributes appear
 * only on complex attributes and never nest further.
 */
const TYPES = ['string', 'boolean', 'decimal', 'integer', 'dateTime', 'reference', 'complex', 'binary'];
const MUTABILITY = ['readOnly', 'readWrite', 'immutable', 'writeOnly'];
const RETURNED = ['always', 'never', 'default', 'request'];
const UNIQUENESS = ['none', 'server', 'global'];
const ATTRNAME = /^[A-Za-z$][\w$-]*$/;

let server: TestServer;
let client: ScimClient;
beforeAll(async () => ({ server, client } = await startScim()));
afterAll(async () => server?.close());

type Attr = Record<string, unknown> & { name: string; type: string; subAttributes?: Attr[] };

/** Every problem with one attribute definition, named by its path. */
function problemsOf(a: Attr, path: string, nested: boolean): string[] {
  const p: string[] = [];
  const where = `${path}${a.name}`;
  if (typeof a.name !== 'string' || !ATTRNAME.test(a.name)) p.push(`${where}: name`);
  if (!TYPES.includes(a.type)) p.push(`${where}: type ${a.type}`);
  for (const k of ['multiValued', 'required', 'caseExact'])
    if (typeof a[k] !== 'boolean') p.push(`${where}: ${k} must be a boolean`);
  if (typeof a.description !== 'string') p.push(`${where}: description`);
  if (!MUTABILITY.includes(a.mutability as string)) p.push(`${where}: mutability ${a.mutability}`);
  if (!RETURNED.includes(a.returned as string)) p.push(`${where}: returned ${a.returned}`);
  if (!UNIQUENESS.includes(a.uniqueness as string)) p.push(`${where}: uniqueness ${a.uniqueness}`);
  if (
    a.canonicalValues !== undefined &&
    !(Array.isArray(a.canonicalValues) && a.canonicalValues.every((v) => typeof v === 'string'))
  )
    p.push(`${where}: canonicalValues`);
  const refs = a.referenceTypes;
  if (a.type === 'reference') {
    if (!Array.isArray(refs) || refs.length === 0 || !refs.every((r) => typeof r === 'string' && r.length > 0))
      p.push(`${where}: a reference needs referenceTypes (RFC 7643 §7)`);
  } else if (refs !== undefined) p.push(`${where}: referenceTypes on a ${a.type}`);
  if (a.type === 'complex') {
    if (nested) p.push(`${where}: a sub-attribute cannot be complex (RFC 7643 §2.3.8)`);
    if (!Array.isArray(a.subAttributes) || a.subAttributes.length === 0)
      p.push(`${where}: complex without subAttributes`);
    for (const s of a.subAttributes ?? []) p.push(...problemsOf(s, `${where}.`, true));
  } else if (a.subAttributes !== undefined) p.push(`${where}: subAttributes on a ${a.type}`);
  return p;
}

describe('discovery is valid RFC 7643', () => {
  it('/Schemas: every schema and attribute has only the characteristics §7 defines', async () => {
    const r = await client.req('GET', '/Schemas');
    expect(r.status).toBe(200);
    const schemas = r.body.Resources as Array<{
      id: string;
      name: string;
      attributes: Attr[];
      schemas: string[];
      meta: { resourceType: string };
    }>;
    expect(schemas.length).toBeGreaterThanOrEqual(3);
    const problems: string[] = [];
    for (const s of schemas) {
      if (!/^urn:/.test(s.id)) problems.push(`${s.id}: id must be a URN`);
      if (typeof s.name !== 'string' || !s.name) problems.push(`${s.id}: name`);
      if (!s.schemas?.includes('urn:ietf:params:scim:schemas:core:2.0:Schema')) problems.push(`${s.id}: schemas`);
      if (s.meta?.resourceType !== 'Schema') problems.push(`${s.id}: meta.resourceType`);
      for (const a of s.attributes) problems.push(...problemsOf(a, `${s.id}:`, false));
    }
    expect(problems).toEqual([]);
  });

  it('/ResourceTypes: endpoint, a schema /Schemas serves, and extensions that exist', async () => {
    const known = new Set(
      ((await client.req('GET', '/Schemas')).body.Resources as Array<{ id: string }>).map((s) => s.id),
    );
    const r = await client.req('GET', '/ResourceTypes');
    expect(r.status).toBe(200);
    const types = r.body.Resources as Array<Record<string, any>>;
    expect(types.map((t) => t.id).sort()).toEqual(['Group', 'User']);
    for (const t of types) {
      expect(t.schemas).toContain('urn:ietf:params:scim:schemas:core:2.0:ResourceType');
      expect(typeof t.name).toBe('string');
      expect(t.endpoint).toMatch(/^\//);
      expect(known.has(t.schema)).toBe(true);
      for (const e of t.schemaExtensions ?? []) {
        expect(known.has(e.schema)).toBe(true);
        expect(typeof e.required).toBe('boolean');
      }
      expect(t.meta.resourceType).toBe('ResourceType');
    }
  });

  it('the check itself catches a reference without referenceTypes', () => {
    const broken = {
      name: 'value',
      type: 'reference',
      multiValued: false,
      description: '',
      required: false,
      caseExact: false,
      mutability: 'readWrite',
      returned: 'default',
      uniqueness: 'none',
    };
    expect(problemsOf(broken as Attr, 'x:', true)).toEqual(['x:value: a reference needs referenceTypes (RFC 7643 §7)']);
  });
});
