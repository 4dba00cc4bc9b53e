import type { Filter } from 'scim2-parse-filter';
import { parseFilter, tokenizer, Tokens, type Token } from 'scim2-parse-filter/lib/src/parser.js';
import type {
  DirectoryAttr,
  DirectoryCollection,
  DirectoryFilter,
  DocumentValue,
  GroupColumn,
  PersonColumn,
} from '../src/domain/directory-query.js';
import { ScimError } from './errors.js';
import { enterpriseSchema, findAttr, userSchema, URN, type AttrDef, type ResourceKind } from './schemas.js';

export const invalidFilter = (detail: string) => new ScimError(400, 'invalidFilter', detail);
/** A filter naming an attribute this resource type lacks (the root /.search tolerates it per type). */
export const unknownAttribute = (detail: string) =>
  new ScimError(400, 'invalidFilter', detail, { reason: 'unknown_attribute' });

/**
 * SCIM filters (RFC 7644 §3.4.2.2): parsing, and which stored value each attribute path names, over
 * a whitelist of attributes. The domain (src/domain/directory-query.ts) turns the result into SQL.
 */

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
// Attribute paths → directory attributes

/** Splits `urn:...:User:name.givenName` into schema URN (if any) and the dotted path. */
export function splitAttrPath(path: string): { urn?: string; parts: string[] } {
  const lower = path.toLowerCase();
  for (const urn of [URN.enterprise, URN.user, URN.group]) {
    if (lower.startsWith(`${urn.toLowerCase()}:`)) return { urn, parts: path.slice(urn.length + 1).split('.') };
    if (lower === urn.toLowerCase()) return { urn, parts: [] };
  }
  return { parts: path.split('.') };
}

const USER_COLUMNS: Record<string, PersonColumn> = {
  id: 'id',
  externalid: 'externalId',
  username: 'userName',
  displayname: 'displayName',
  'name.givenname': 'givenName',
  'name.familyname': 'familyName',
  active: 'active',
  'meta.created': 'created',
  'meta.lastmodified': 'lastModified',
};
const GROUP_COLUMNS: Record<string, GroupColumn> = {
  id: 'id',
  externalid: 'externalId',
  displayname: 'displayName',
  'meta.created': 'created',
  'meta.lastmodified': 'lastModified',
};

const scalarType = (d: AttrDef): 'string' | 'boolean' | 'dateTime' | undefined =>
  d.type === 'boolean' ? 'boolean' : d.type === 'dateTime' ? 'dateTime' : d.type === 'complex' ? undefined : 'string';

/** Multi-valued attributes kept in the person's SCIM document (phoneNumbers, addresses, …). */
function documentArray(def: AttrDef): { collection: DirectoryCollection } {
  return {
    collection: {
      document: [def.name],
      item(name) {
        const s = findAttr(def.subAttributes, name);
        const type = s && scalarType(s);
        if (!s || !type) return undefined;
        // Booleans compare as their JSON text ('true'/'false'): a cast could fail on odd stored data.
        const value: DocumentValue = {
          type: type === 'boolean' ? 'string' : type,
          caseExact: s.caseExact || type === 'boolean',
        };
        return { key: s.name, ...value };
      },
    },
  };
}

/** The stored value a filterable attribute path names; invalidFilter for anything else. */
export function resolveAttr(kind: ResourceKind, attrPath: string): DirectoryAttr {
  const { urn, parts } = splitAttrPath(attrPath);
  const key = parts.join('.').toLowerCase();
  const unknown = () => unknownAttribute(`Unknown or unfilterable attribute "${attrPath}"`);
  if (parts.length === 0 || parts.some((x) => x === '')) throw unknown();
  if (kind === 'Group') {
    if (urn && urn !== URN.group) throw unknown();
    if (GROUP_COLUMNS[key]) return { value: { column: GROUP_COLUMNS[key] } };
    if (parts[0].toLowerCase() === 'members' && parts.length <= 2) return { collection: 'members', sub: parts[1] };
    throw unknown();
  }
  const enterprise = (): DirectoryAttr => {
    const def = findAttr(enterpriseSchema.attributes, parts[0]);
    if (!def) throw unknown();
    if (def.type === 'complex') {
      const sub = findAttr(def.subAttributes, parts[1] ?? 'value');
      if (!sub || parts.length > 2) throw unknown();
      return { value: { document: [URN.enterprise, def.name, sub.name], type: 'string', caseExact: sub.caseExact } };
    }
    if (parts.length > 1) throw unknown();
    return { value: { document: [URN.enterprise, def.name], type: 'string', caseExact: def.caseExact } };
  };
  if (urn === URN.enterprise) return enterprise();
  if (urn && urn !== URN.user) throw unknown();
  if (USER_COLUMNS[key]) return { value: { column: USER_COLUMNS[key] } };
  const def = findAttr(userSchema.attributes, parts[0]);
  // Entra sends enterprise attributes unqualified (`manager eq "…"`). RFC 7644 §3.10 asks for the
  // URN, but a name no core attribute has can only mean the extension's.
  if (!urn && !def && findAttr(enterpriseSchema.attributes, parts[0])) return enterprise();
  if (!def || def.mutability === 'writeOnly' || parts.length > 2) throw unknown();
  if (def.name === 'emails') return { collection: 'emails', sub: parts[1] };
  if (def.name === 'groups') return { collection: 'groups', sub: parts[1] };
  if (def.multiValued) return { ...documentArray(def), sub: parts[1] };
  if (def.type === 'complex') {
    const sub = parts[1] && findAttr(def.subAttributes, parts[1]);
    if (!sub) throw unknown();
    return { value: { document: [def.name, sub.name], type: 'string', caseExact: sub.caseExact } };
  }
  if (parts.length > 1) throw unknown();
  const type = scalarType(def)!;
  if (type === 'boolean') return { value: { document: [def.name], type: 'string', caseExact: true } };
  return { value: { document: [def.name], type, caseExact: def.caseExact } };
}

const resourceOf = (kind: ResourceKind) => (kind === 'User' ? 'person' : 'group');

/** A filter parameter as the domain takes it: parsed, with this kind's attribute resolver. */
export function directoryFilter(text: string, kind: ResourceKind): DirectoryFilter {
  return { resource: resourceOf(kind), filter: parseScimFilter(text), resolve: (path) => resolveAttr(kind, path) };
}

/** sortBy (RFC 7644 §3.4.2.3) as the attribute to sort on; invalidValue when nothing sortable is named. */
export function sortAttr(kind: ResourceKind, sortBy: string): DirectoryAttr {
  try {
    return resolveAttr(kind, sortBy);
  } catch {
    throw new ScimError(400, 'invalidValue', `Cannot sort by "${sortBy}"`);
  }
}
