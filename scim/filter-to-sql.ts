import type { Filter } from 'scim2-parse-filter';
import { parseFilter, tokenizer, Tokens, type Token } from 'scim2-parse-filter/lib/src/parser.js';
import { ScimError } from './errors.js';
import { enterpriseSchema, findAttr, userSchema, URN, type AttrDef, type ResourceKind } from './schemas.js';
import { UUID } from '../src/ids.js';

/**
 * SCIM filter → parameterised SQL over a whitelist of attributes (RFC 7644 §3.4.2.2). Values are
 * always bound ($n), never spliced into the SQL text; attribute names only select SQL fragments
 * written here. Rows are never loaded to be filtered in memory.
 */

export const invalidFilter = (detail: string) => new ScimError(400, 'invalidFilter', detail);
/** A filter naming an attribute this resource type lacks (the root /.search tolerates it per type). */
export const unknownAttribute = (detail: string) =>
  new ScimError(400, 'invalidFilter', detail, { reason: 'unknown_attribute' });

/** Collects bound parameters; `add` returns the placeholder for the value. */
export class Binder {
  constructor(readonly params: unknown[] = []) {}
  add(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

const COMPARE_OPS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le']);

/**
 * Parses with scim2-parse-filter after two token rewrites for what real clients send and the parser
 * rejects or mis-reads:
 *  - unquoted values (`externalId eq jyoung`, `userName sw O`, shown in Entra's docs) become strings;
 *  - `emails[type eq "work"].value eq "x"` becomes `emails[(type eq "work") and value eq "x"]`, so
 *    both conditions must hold on the SAME email (the parser would make them independent).
 */
export function parseScimFilter(text: string): Filter {
  if (!text.trim()) throw invalidFilter('Empty filter');
  let tokens: Token[];
  try {
    tokens = tokenizer(text);
  } catch (err) {
    throw invalidFilter(`Cannot parse filter: ${(err as Error).message}`);
  }
  tokens = quoteBareValues(tokens);
  tokens = foldValuePathSubAttributes(tokens);
  try {
    const list = new Tokens(tokens);
    const filter = parseFilter(list);
    if (list.peek().type !== 'EOT') throw new Error(`unexpected ${list.peek().literal}`);
    return filter;
  } catch (err) {
    throw invalidFilter(`Cannot parse filter "${text}": ${(err as Error).message}`);
  }
}

function quoteBareValues(tokens: Token[]): Token[] {
  return tokens.map((t, i) => {
    const op = tokens[i - 1];
    const attrTok = tokens[i - 2];
    const isValue =
      op && attrTok && op.type === 'Word' && COMPARE_OPS.has(op.literal.toLowerCase()) && attrTok.type === 'Word';
    if (isValue && t.type === 'Word' && !['true', 'false', 'null'].includes(t.literal)) {
      const lower = t.literal.toLowerCase();
      // Case variants of the JSON literals, as IdPs write them ("True").
      if (lower === 'true' || lower === 'false' || lower === 'null') return { type: 'Word', literal: lower };
      return { type: 'Quoted', literal: JSON.stringify(t.literal) };
    }
    return t;
  });
}

function foldValuePathSubAttributes(tokens: Token[]): Token[] {
  const out: Token[] = [];
  const opens: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type === 'Bracket' && t.literal === '[') {
      opens.push(out.length);
      out.push(t);
      continue;
    }
    if (t.type === 'Bracket' && t.literal.startsWith(']')) {
      const open = opens.pop();
      if (t.literal === '].' && open !== undefined && tokens[i + 1]?.type === 'Word' && tokens[i + 2]) {
        const sub = tokens[i + 1];
        const op = tokens[i + 2];
        const takesValue = op.literal.toLowerCase() !== 'pr';
        const value = takesValue ? tokens[i + 3] : undefined;
        if (takesValue && !value) throw invalidFilter('Missing comparison value after value path');
        const inner = out.splice(open + 1);
        out.push({ type: 'Bracket', literal: '(' }, ...inner, { type: 'Bracket', literal: ')' });
        out.push({ type: 'Word', literal: 'and' }, sub, op, ...(value ? [value] : []), {
          type: 'Bracket',
          literal: ']',
        });
        i += takesValue ? 3 : 2;
        continue;
      }
      out.push(t);
      continue;
    }
    out.push(t);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Attribute whitelist → SQL expressions

export type ScalarType = 'string' | 'boolean' | 'dateTime' | 'uuid';
export interface Scalar {
  expr: string;
  type: ScalarType;
  caseExact: boolean;
  /** The expression is already lower-cased (an indexed generated column): lower only the value. */
  lowered?: boolean;
}
/** A multi-valued attribute: rows of a subquery, each with sub-attributes. */
interface Elements {
  /** FROM ... WHERE <correlation>; the element filter is ANDed on. */
  from: string;
  sub(name: string): Scalar | undefined;
}

const jsonPath = (parts: string[]) => `'{${parts.map((p) => `"${p}"`).join(',')}}'`;

/** Splits `urn:...:User:name.givenName` into schema URN (if any) and the dotted path. */
export function splitAttrPath(path: string): { urn?: string; parts: string[] } {
  const lower = path.toLowerCase();
  for (const urn of [URN.enterprise, URN.user, URN.group]) {
    if (lower.startsWith(`${urn.toLowerCase()}:`)) return { urn, parts: path.slice(urn.length + 1).split('.') };
    if (lower === urn.toLowerCase()) return { urn, parts: [] };
  }
  return { parts: path.split('.') };
}

const USER_COLUMNS: Record<string, Scalar> = {
  id: { expr: 'p.id', type: 'uuid', caseExact: true },
  externalid: { expr: 'p.external_id', type: 'string', caseExact: true },
  username: { expr: 'p.user_name', type: 'string', caseExact: false },
  displayname: { expr: 'p.display_name', type: 'string', caseExact: false },
  'name.givenname': { expr: 'p.given_name', type: 'string', caseExact: false },
  'name.familyname': { expr: 'p.family_name', type: 'string', caseExact: false },
  active: { expr: 'p.active', type: 'boolean', caseExact: false },
  'meta.created': { expr: 'p.created_at', type: 'dateTime', caseExact: false },
  'meta.lastmodified': { expr: 'p.updated_at', type: 'dateTime', caseExact: false },
};
const GROUP_COLUMNS: Record<string, Scalar> = {
  id: { expr: 'g.id', type: 'uuid', caseExact: true },
  externalid: { expr: 'g.external_id', type: 'string', caseExact: true },
  displayname: { expr: 'g.display_name', type: 'string', caseExact: false },
  'meta.created': { expr: 'g.created_at', type: 'dateTime', caseExact: false },
  'meta.lastmodified': { expr: 'g.updated_at', type: 'dateTime', caseExact: false },
};

const scalarType = (d: AttrDef): ScalarType | undefined =>
  d.type === 'boolean' ? 'boolean' : d.type === 'dateTime' ? 'dateTime' : d.type === 'complex' ? undefined : 'string';

const emailElements: Elements = {
  from: 'person_emails e WHERE e.tenant_id = p.tenant_id AND e.person_id = p.id',
  sub(name) {
    switch (name.toLowerCase()) {
      case 'value':
        return { expr: 'e.value_lower', type: 'string', caseExact: false, lowered: true };
      case 'type':
        return { expr: 'e.type', type: 'string', caseExact: false };
      case 'primary':
        return { expr: 'e.is_primary', type: 'boolean', caseExact: false };
      default:
        return undefined;
    }
  },
};
const userGroupElements: Elements = {
  from: "group_members gm JOIN groups gg ON gg.id = gm.group_id AND gg.deleted_at IS NULL WHERE gm.tenant_id = p.tenant_id AND gm.member_type = 'person' AND gm.member_id = p.id",
  sub(name) {
    switch (name.toLowerCase()) {
      case 'value':
        return { expr: 'gm.group_id', type: 'uuid', caseExact: true };
      case 'display':
        return { expr: 'gg.display_name', type: 'string', caseExact: false };
      default:
        return undefined;
    }
  },
};
const memberElements: Elements = {
  from: 'group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id',
  sub(name) {
    switch (name.toLowerCase()) {
      case 'value':
        return { expr: 'm.member_id', type: 'uuid', caseExact: true };
      case 'type':
        return {
          expr: "(CASE m.member_type WHEN 'person' THEN 'User' ELSE 'Group' END)",
          type: 'string',
          caseExact: false,
        };
      default:
        return undefined;
    }
  },
};
/** Multi-valued attributes kept in the person's scim jsonb (phoneNumbers, addresses, …). */
function jsonElements(def: AttrDef, path: string[]): Elements {
  return {
    from: `jsonb_array_elements(CASE WHEN jsonb_typeof(p.scim #> ${jsonPath(path)}) = 'array' THEN p.scim #> ${jsonPath(path)} ELSE '[]'::jsonb END) AS x(v) WHERE true`,
    sub(name) {
      const s = findAttr(def.subAttributes, name);
      const type = s && scalarType(s);
      if (!s || !type) return undefined;
      // Booleans compare as their JSON text ('true'/'false'): a cast could fail on odd stored data.
      return {
        expr: `(x.v ->> '${s.name}')`,
        type: type === 'boolean' ? 'string' : type,
        caseExact: s.caseExact || type === 'boolean',
      };
    },
  };
}

type Resolved = { scalar: Scalar } | { elements: Elements; sub?: string };

export function resolveAttr(kind: ResourceKind, attrPath: string): Resolved {
  const { urn, parts } = splitAttrPath(attrPath);
  const key = parts.join('.').toLowerCase();
  const unknown = () => unknownAttribute(`Unknown or unfilterable attribute "${attrPath}"`);
  if (parts.length === 0 || parts.some((x) => x === '')) throw unknown();
  if (kind === 'Group') {
    if (urn && urn !== URN.group) throw unknown();
    if (GROUP_COLUMNS[key]) return { scalar: GROUP_COLUMNS[key] };
    if (parts[0].toLowerCase() === 'members' && parts.length <= 2) return { elements: memberElements, sub: parts[1] };
    throw unknown();
  }
  if (urn === URN.enterprise) {
    const def = findAttr(enterpriseSchema.attributes, parts[0]);
    if (!def) throw unknown();
    if (def.type === 'complex') {
      const sub = findAttr(def.subAttributes, parts[1] ?? 'value');
      if (!sub || parts.length > 2) throw unknown();
      return {
        scalar: {
          expr: `(p.scim #>> ${jsonPath([URN.enterprise, def.name, sub.name])})`,
          type: 'string',
          caseExact: sub.caseExact,
        },
      };
    }
    if (parts.length > 1) throw unknown();
    return {
      scalar: {
        expr: `(p.scim #>> ${jsonPath([URN.enterprise, def.name])})`,
        type: 'string',
        caseExact: def.caseExact,
      },
    };
  }
  if (urn && urn !== URN.user) throw unknown();
  if (USER_COLUMNS[key]) return { scalar: USER_COLUMNS[key] };
  const def = findAttr(userSchema.attributes, parts[0]);
  if (!def || def.mutability === 'writeOnly' || parts.length > 2) throw unknown();
  if (def.name === 'emails') return { elements: emailElements, sub: parts[1] };
  if (def.name === 'groups') return { elements: userGroupElements, sub: parts[1] };
  if (def.multiValued) return { elements: jsonElements(def, [def.name]), sub: parts[1] };
  if (def.type === 'complex') {
    const sub = parts[1] && findAttr(def.subAttributes, parts[1]);
    if (!sub) throw unknown();
    return {
      scalar: { expr: `(p.scim #>> ${jsonPath([def.name, sub.name])})`, type: 'string', caseExact: sub.caseExact },
    };
  }
  if (parts.length > 1) throw unknown();
  const type = scalarType(def)!;
  if (type === 'boolean') return { scalar: { expr: `(p.scim ->> '${def.name}')`, type: 'string', caseExact: true } };
  return { scalar: { expr: `(p.scim ->> '${def.name}')`, type, caseExact: def.caseExact } };
}

// ---------------------------------------------------------------------------------------------
// Translation

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

export function compareSql(s: Scalar, op: string, value: unknown, b: Binder, attrPath: string): string {
  if (op === 'pr')
    return s.type === 'string' ? `(${s.expr} IS NOT NULL AND ${s.expr} <> '')` : `(${s.expr} IS NOT NULL)`;
  if (value === null) {
    if (op === 'eq') return `(${s.expr} IS NULL)`;
    if (op === 'ne') return `(${s.expr} IS NOT NULL)`;
    throw invalidFilter(`Operator "${op}" cannot compare with null`);
  }
  if (s.type === 'boolean') {
    const v = typeof value === 'string' ? value.toLowerCase() : value;
    const bool = v === true || v === 'true' ? true : v === false || v === 'false' ? false : undefined;
    if (bool === undefined) throw invalidFilter(`"${attrPath}" is boolean; got ${JSON.stringify(value)}`);
    if (op === 'eq') return `(${s.expr} = ${b.add(bool)}::boolean)`;
    if (op === 'ne') return `(${s.expr} IS DISTINCT FROM ${b.add(bool)}::boolean)`;
    throw invalidFilter(`Operator "${op}" is not defined for boolean "${attrPath}"`);
  }
  if (s.type === 'dateTime') {
    const d = new Date(String(value));
    // Years 1-9999 only: what xsd:dateTime (RFC 7643 §2.3.5) and PostgreSQL's input both accept.
    const year = d.getUTCFullYear();
    if (typeof value !== 'string' || Number.isNaN(d.getTime()) || year < 1 || year > 9999) {
      throw invalidFilter(`"${attrPath}" needs a dateTime; got ${JSON.stringify(value)}`);
    }
    const ops: Record<string, string> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };
    if (!ops[op]) throw invalidFilter(`Operator "${op}" is not defined for dateTime "${attrPath}"`);
    return `(${s.expr} ${ops[op]} ${b.add(d.toISOString())}::timestamptz)`;
  }
  let expr = s.expr;
  let v = String(value);
  // Case folding happens in SQL on both sides, with the same lower() the indexes use: JavaScript's
  // toLowerCase differs from PostgreSQL's for some letters (İ, final Σ) and would miss matches.
  let param = (x: string) => b.add(x);
  if (s.type === 'uuid') {
    // Indexed equality on a real uuid; anything else compares the text form (never a cast error).
    if (op === 'eq') return UUID.test(v) ? `(${expr} = ${b.add(v.toLowerCase())}::uuid)` : 'false';
    expr = `${expr}::text`;
    v = v.toLowerCase();
  } else if (!s.caseExact) {
    if (!s.lowered) expr = `lower(${expr})`;
    param = (x: string) => `lower(${b.add(x)})`;
  }
  switch (op) {
    case 'eq':
      return `(${expr} = ${param(v)})`;
    case 'ne':
      return `(${expr} IS DISTINCT FROM ${param(v)})`;
    case 'co':
      return `(${expr} LIKE ${param(`%${likeEscape(v)}%`)})`;
    case 'sw':
      return `(${expr} LIKE ${param(`${likeEscape(v)}%`)})`;
    case 'ew':
      return `(${expr} LIKE ${param(`%${likeEscape(v)}`)})`;
    case 'gt':
      return `(${expr} > ${param(v)})`;
    case 'ge':
      return `(${expr} >= ${param(v)})`;
    case 'lt':
      return `(${expr} < ${param(v)})`;
    case 'le':
      return `(${expr} <= ${param(v)})`;
    default:
      throw invalidFilter(`Unknown operator "${op}"`);
  }
}

/** Translates a parsed filter into a boolean SQL expression over alias p (User) or g (Group). */
export function filterToSql(f: Filter, kind: ResourceKind, b: Binder): string {
  switch (f.op) {
    case 'and':
    case 'or': {
      const parts = (f as { filters: Filter[] }).filters.map((x) => filterToSql(x, kind, b));
      return `(${parts.join(f.op === 'and' ? ' AND ' : ' OR ')})`;
    }
    case 'not':
      return `(NOT COALESCE(${filterToSql((f as { filter: Filter }).filter, kind, b)}, false))`;
    case '[]': {
      const vp = f as { attrPath: string; valFilter: Filter };
      const r = resolveAttr(kind, vp.attrPath);
      if (!('elements' in r) || r.sub) throw invalidFilter(`"${vp.attrPath}" is not a multi-valued attribute`);
      return `EXISTS (SELECT 1 FROM ${r.elements.from} AND ${elementFilter(vp.valFilter, r.elements, b, vp.attrPath)})`;
    }
    default: {
      const c = f as { op: string; attrPath: string; compValue?: unknown };
      const r = resolveAttr(kind, c.attrPath);
      if ('scalar' in r) return compareSql(r.scalar, c.op, c.compValue, b, c.attrPath);
      const sub = r.elements.sub(r.sub ?? 'value');
      if (!sub) throw unknownAttribute(`Unknown or unfilterable attribute "${c.attrPath}"`);
      return `EXISTS (SELECT 1 FROM ${r.elements.from} AND ${compareSql(sub, c.op, c.compValue, b, c.attrPath)})`;
    }
  }
}

/** A filter inside brackets: attribute names are sub-attributes of one element. */
function elementFilter(f: Filter, el: Elements, b: Binder, parent: string): string {
  switch (f.op) {
    case 'and':
    case 'or':
      return `(${(f as { filters: Filter[] }).filters.map((x) => elementFilter(x, el, b, parent)).join(f.op === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT COALESCE(${elementFilter((f as { filter: Filter }).filter, el, b, parent)}, false))`;
    case '[]':
      throw invalidFilter('Nested value paths are not allowed');
    default: {
      const c = f as { op: string; attrPath: string; compValue?: unknown };
      // Tolerate the full path inside brackets (emails[emails.type eq "work"]).
      const name = c.attrPath.toLowerCase().startsWith(`${parent.toLowerCase()}.`)
        ? c.attrPath.slice(parent.length + 1)
        : c.attrPath;
      const sub = el.sub(name);
      if (!sub) throw invalidFilter(`Unknown sub-attribute "${c.attrPath}" of "${parent}"`);
      return compareSql(sub, c.op, c.compValue, b, `${parent}.${name}`);
    }
  }
}

/** More comparisons than any IdP sends; bounds planning time and PostgreSQL's 65,535 parameters. */
export const MAX_FILTER_VALUES = 1000;

/** Parses and translates in one step. */
export function scimFilterToSql(text: string, kind: ResourceKind, b: Binder): string {
  const before = b.params.length;
  const sql = filterToSql(parseScimFilter(text), kind, b);
  if (b.params.length - before > MAX_FILTER_VALUES)
    throw invalidFilter(`Filter has more than ${MAX_FILTER_VALUES} values`);
  return sql;
}

/** sortBy → an ORDER BY expression over single-valued attributes (RFC 7644 §3.4.2.3). */
export function sortExpression(kind: ResourceKind, sortBy: string): string {
  let r: Resolved;
  try {
    r = resolveAttr(kind, sortBy);
  } catch {
    throw new ScimError(400, 'invalidValue', `Cannot sort by "${sortBy}"`);
  }
  if ('scalar' in r)
    return r.scalar.caseExact || r.scalar.type !== 'string' ? r.scalar.expr : `lower(${r.scalar.expr})`;
  // Multi-valued: sort by the primary email (RFC: the primary value, if any).
  if (kind === 'User' && r.elements === emailElements && (!r.sub || r.sub.toLowerCase() === 'value'))
    return 'p.primary_email';
  throw new ScimError(400, 'invalidValue', `Cannot sort by multi-valued "${sortBy}"`);
}
