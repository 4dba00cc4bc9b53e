import type { Filter } from 'scim2-parse-filter';
import { InvalidQueryError } from '../errors.js';
import { UUID } from '../ids.js';

/**
 * Directory filters and sort keys → parameterised SQL over people (alias p) and groups (alias g).
 * The protocol layer parses a filter and says which stored value each attribute path names (a
 * DirectoryAttr); only this module writes SQL for it. Values are always bound ($n), never spliced
 * into the SQL text; names only select fragments written here. Rows are never loaded to be
 * filtered in memory.
 */

export const invalidFilter = (detail: string) => new InvalidQueryError('invalid_filter', detail);
const unknownAttribute = (detail: string) => new InvalidQueryError('unknown_attribute', detail);

export type DirectoryResource = 'person' | 'group';
export type PersonColumn =
  | 'id'
  | 'externalId'
  | 'userName'
  | 'displayName'
  | 'givenName'
  | 'familyName'
  | 'active'
  | 'created'
  | 'lastModified';
export type GroupColumn = 'id' | 'externalId' | 'displayName' | 'created' | 'lastModified';

/** How a value inside the stored SCIM document compares. */
export interface DocumentValue {
  type: 'string' | 'dateTime';
  caseExact: boolean;
}
/** One single value of a person or group: a column, or a path into its stored SCIM document. */
export type DirectoryValue = { column: PersonColumn | GroupColumn } | ({ document: string[] } & DocumentValue);
/**
 * A multi-valued attribute: emails, a person's groups, a group's members, or an array in the
 * person's SCIM document (whose element keys the caller resolves).
 */
export type DirectoryCollection =
  | 'emails'
  | 'groups'
  | 'members'
  | { document: string[]; item(name: string): ({ key: string } & DocumentValue) | undefined };
export type DirectoryAttr = { value: DirectoryValue } | { collection: DirectoryCollection; sub?: string };

/** A parsed filter with the resolver for its attribute paths (which throws for unknown ones). */
export interface DirectoryFilter {
  resource: DirectoryResource;
  filter: Filter;
  resolve(attrPath: string): DirectoryAttr;
}

/** Collects bound parameters; `add` returns the placeholder for the value. */
export class Binder {
  constructor(readonly params: unknown[] = []) {}
  add(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

type ScalarType = 'string' | 'boolean' | 'dateTime' | 'uuid';
interface Scalar {
  expr: string;
  type: ScalarType;
  caseExact: boolean;
  /** The expression is already lower-cased (an indexed generated column): lower only the value. */
  lowered?: boolean;
}
/** Rows of a subquery, each with sub-attributes. */
interface Elements {
  /** FROM ... WHERE <correlation>; the element filter is ANDed on. */
  from: string;
  sub(name: string): Scalar | undefined;
}

const PERSON_COLUMNS: Record<PersonColumn, Scalar> = {
  id: { expr: 'p.id', type: 'uuid', caseExact: true },
  externalId: { expr: 'p.external_id', type: 'string', caseExact: true },
  userName: { expr: 'p.user_name', type: 'string', caseExact: false },
  displayName: { expr: 'p.display_name', type: 'string', caseExact: false },
  givenName: { expr: 'p.given_name', type: 'string', caseExact: false },
  familyName: { expr: 'p.family_name', type: 'string', caseExact: false },
  active: { expr: 'p.active', type: 'boolean', caseExact: false },
  created: { expr: 'p.created_at', type: 'dateTime', caseExact: false },
  lastModified: { expr: 'p.updated_at', type: 'dateTime', caseExact: false },
};
const GROUP_COLUMNS: Record<GroupColumn, Scalar> = {
  id: { expr: 'g.id', type: 'uuid', caseExact: true },
  externalId: { expr: 'g.external_id', type: 'string', caseExact: true },
  displayName: { expr: 'g.display_name', type: 'string', caseExact: false },
  created: { expr: 'g.created_at', type: 'dateTime', caseExact: false },
  lastModified: { expr: 'g.updated_at', type: 'dateTime', caseExact: false },
};

/** Document keys become SQL literals: refuse anything that could leave the literal. */
function safeKey(key: string): string {
  if (!/^[\w:.$-]+$/.test(key)) throw unknownAttribute(`Unknown or unfilterable attribute "${key}"`);
  return key;
}
const jsonPath = (parts: string[]) => `'{${parts.map((p) => `"${safeKey(p)}"`).join(',')}}'`;

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
const personGroupElements: Elements = {
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

function valueSql(resource: DirectoryResource, v: DirectoryValue): Scalar {
  if ('column' in v) {
    const s = resource === 'person' ? PERSON_COLUMNS[v.column] : (GROUP_COLUMNS as Record<string, Scalar>)[v.column];
    if (!s) throw unknownAttribute(`Unknown or unfilterable attribute "${v.column}"`);
    return s;
  }
  if (resource !== 'person' || v.document.length === 0)
    throw unknownAttribute(`Unknown or unfilterable attribute "${v.document.join('.')}"`);
  const expr =
    v.document.length === 1 ? `(p.scim ->> '${safeKey(v.document[0])}')` : `(p.scim #>> ${jsonPath(v.document)})`;
  return { expr, type: v.type, caseExact: v.caseExact };
}

function elementsSql(resource: DirectoryResource, c: DirectoryCollection): Elements {
  if (c === 'members' && resource === 'group') return memberElements;
  if (resource !== 'person' || c === 'members')
    throw unknownAttribute(`Unknown or unfilterable attribute "${typeof c === 'string' ? c : c.document.join('.')}"`);
  if (c === 'emails') return emailElements;
  if (c === 'groups') return personGroupElements;
  const path = jsonPath(c.document);
  return {
    from: `jsonb_array_elements(CASE WHEN jsonb_typeof(p.scim #> ${path}) = 'array' THEN p.scim #> ${path} ELSE '[]'::jsonb END) AS x(v) WHERE true`,
    sub(name) {
      const item = c.item(name);
      return item && { expr: `(x.v ->> '${safeKey(item.key)}')`, type: item.type, caseExact: item.caseExact };
    },
  };
}

type Resolved = { scalar: Scalar } | { elements: Elements; collection: DirectoryCollection; sub?: string };

function resolveSql(f: Pick<DirectoryFilter, 'resource' | 'resolve'>, attrPath: string): Resolved {
  const a = f.resolve(attrPath);
  if ('value' in a) return { scalar: valueSql(f.resource, a.value) };
  return { elements: elementsSql(f.resource, a.collection), collection: a.collection, sub: a.sub };
}

// ---------------------------------------------------------------------------------------------
// Translation

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

function compareSql(s: Scalar, op: string, value: unknown, b: Binder, attrPath: string): string {
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

function translate(df: DirectoryFilter, f: Filter, b: Binder): string {
  switch (f.op) {
    case 'and':
    case 'or': {
      const parts = (f as { filters: Filter[] }).filters.map((x) => translate(df, x, b));
      return `(${parts.join(f.op === 'and' ? ' AND ' : ' OR ')})`;
    }
    case 'not':
      return `(NOT COALESCE(${translate(df, (f as { filter: Filter }).filter, b)}, false))`;
    case '[]': {
      const vp = f as { attrPath: string; valFilter: Filter };
      const r = resolveSql(df, vp.attrPath);
      if (!('elements' in r) || r.sub) throw invalidFilter(`"${vp.attrPath}" is not a multi-valued attribute`);
      return `EXISTS (SELECT 1 FROM ${r.elements.from} AND ${elementFilter(vp.valFilter, r.elements, b, vp.attrPath)})`;
    }
    default: {
      const c = f as { op: string; attrPath: string; compValue?: unknown };
      const r = resolveSql(df, c.attrPath);
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
      if (!sub) throw unknownAttribute(`Unknown sub-attribute "${c.attrPath}" of "${parent}"`);
      return compareSql(sub, c.op, c.compValue, b, `${parent}.${name}`);
    }
  }
}

/** More comparisons than any IdP sends; bounds planning time and PostgreSQL's 65,535 parameters. */
export const MAX_FILTER_VALUES = 1000;

/** The filter as a boolean SQL expression over alias p (person) or g (group), values bound in `b`. */
export function filterSql(df: DirectoryFilter, b: Binder): string {
  const before = b.params.length;
  const sql = translate(df, df.filter, b);
  if (b.params.length - before > MAX_FILTER_VALUES)
    throw invalidFilter(`Filter has more than ${MAX_FILTER_VALUES} values`);
  return sql;
}

/** A sort key → an ORDER BY expression; only single values sort (emails: by the primary one). */
export function orderSql(resource: DirectoryResource, attr: DirectoryAttr, label: string): string {
  if ('value' in attr) {
    const s = valueSql(resource, attr.value);
    return s.caseExact || s.type !== 'string' ? s.expr : `lower(${s.expr})`;
  }
  // Multi-valued: sort by the primary email (RFC 7644 §3.4.2.3: the primary value, if any).
  if (resource === 'person' && attr.collection === 'emails' && (!attr.sub || attr.sub.toLowerCase() === 'value'))
    return 'p.primary_email';
  throw new InvalidQueryError('invalid_sort', `Cannot sort by multi-valued "${label}"`);
}
