import type { Filter } from 'scim2-parse-filter';
import { ScimError } from './errors.js';
import { parseScimFilter, splitAttrPath } from './filter.js';
import {
  coerceBoolean,
  commonAttributes,
  findAttr,
  normalizeResource,
  normalizeValue,
  resourceSchemas,
  type AttrDef,
  type ResourceKind,
} from './schemas.js';

/**
 * The PATCH engine (RFC 7644 §3.5.2), pure: it applies a PatchOp to a resource document (canonical
 * attribute names, extensions under their URN) and returns the new document. The caller loads and
 * stores the resource inside one transaction, so all operations of a request apply or none do.
 *
 * It accepts the shapes IdPs really send: `op` in any case; booleans as strings; path-less
 * operations whose keys are paths ("name.givenName", extension URNs); Okta's
 * `{"op":"replace","value":{"active":false}}`; remove with a value array (members); value-path
 * filters with or without a trailing sub-attribute (`emails[type eq "work"].value`).
 */
export type Doc = Record<string, unknown>;
export interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

const invalidPath = (m: string) => new ScimError(400, 'invalidPath', m);
const invalidValue = (m: string) => new ScimError(400, 'invalidValue', m);
const noTarget = (m: string) => new ScimError(400, 'noTarget', m);
const mutability = (m: string) => new ScimError(400, 'mutability', m);

/** Validates a PatchOp message body and returns its operations. */
export function readPatchRequest(body: unknown): PatchOperation[] {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ScimError(400, 'invalidSyntax', 'PATCH body must be a PatchOp object');
  const b = body as Record<string, unknown>;
  const opsKey = Object.keys(b).find((k) => k.toLowerCase() === 'operations');
  const ops = opsKey ? b[opsKey] : undefined;
  if (!Array.isArray(ops) || ops.length === 0)
    throw new ScimError(400, 'invalidSyntax', 'PatchOp needs a non-empty "Operations" array');
  return ops.map((o, i) => {
    if (!o || typeof o !== 'object') throw new ScimError(400, 'invalidSyntax', `Operations[${i}] is not an object`);
    const entries = Object.fromEntries(
      Object.entries(o as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const op = typeof entries.op === 'string' ? entries.op.toLowerCase() : '';
    if (!['add', 'replace', 'remove'].includes(op))
      throw new ScimError(400, 'invalidSyntax', `Operations[${i}].op must be add, replace or remove`);
    const path = entries.path;
    if (path !== undefined && path !== null && typeof path !== 'string')
      throw invalidPath(`Operations[${i}].path must be a string`);
    return { op, path: typeof path === 'string' && path.trim() ? path.trim() : undefined, value: entries.value };
  });
}

interface Target {
  /** Extension URN whose object holds the attribute, or undefined for core/common attributes. */
  urn?: string;
  def: AttrDef;
  filter?: Filter;
  sub?: AttrDef;
}

/** Resolves a PATCH path against the resource's schemas; unknown attributes are invalidPath. */
export function resolvePath(kind: ResourceKind, path: string): Target {
  const m = /^(.*?)\[(.*)\](?:\.(.+))?$/s.exec(path);
  const attrPart = m ? m[1] : path;
  const { urn, parts } = splitAttrPath(attrPart);
  if (m && parts.length !== 1) throw invalidPath(`Invalid path "${path}"`);
  const subName = m ? m[3] : parts[1];
  if (parts.length === 0 || parts.length > 2 || (m && parts.length > 1)) throw invalidPath(`Invalid path "${path}"`);
  const { core, extensions } = resourceSchemas[kind];
  const ext = urn ? extensions.find((e) => e.id === urn) : undefined;
  if (urn && !ext && urn !== core.id) throw invalidPath(`Unknown schema in path "${path}"`);
  const def = ext
    ? findAttr(ext.attributes, parts[0])
    : (findAttr(core.attributes, parts[0]) ?? findAttr(commonAttributes, parts[0]));
  if (!def) throw invalidPath(`Unknown attribute in path "${path}"`);
  if (def.mutability === 'readOnly' || def.name === 'id') throw mutability(`"${def.name}" is read-only`);
  let sub: AttrDef | undefined;
  if (subName) {
    sub = findAttr(def.subAttributes, subName);
    if (!sub) throw invalidPath(`Unknown sub-attribute in path "${path}"`);
  }
  let filter: Filter | undefined;
  if (m) {
    if (!def.multiValued) throw invalidPath(`"${def.name}" is not multi-valued; no filter allowed`);
    try {
      filter = parseScimFilter(m[2]);
    } catch (err) {
      throw invalidPath(`Invalid filter in path "${path}": ${(err as Error).message}`);
    }
  }
  return { urn: ext?.id, def, filter, sub };
}

/** Applies all operations to a copy of the document; throws (changing nothing) on the first error. */
export function applyPatch(kind: ResourceKind, doc: Doc, ops: PatchOperation[]): Doc {
  const out = structuredClone(doc);
  for (const op of ops) {
    const ext = op.path && extensionNamed(kind, op.path);
    if (ext) applyExtension(kind, out, ext, op);
    else if (op.path) applyAtPath(out, resolvePath(kind, op.path), op);
    else applyPathless(kind, out, op);
  }
  return out;
}

const extensionNamed = (kind: ResourceKind, path: string) =>
  resourceSchemas[kind].extensions.find((e) => e.id.toLowerCase() === path.trim().toLowerCase())?.id;

/**
 * `path` is an extension's URN (Entra and Okta send it): add merges the object's attributes into
 * the extension, replace makes the extension exactly that object, remove drops the whole extension.
 */
function applyExtension(kind: ResourceKind, doc: Doc, urn: string, op: PatchOperation) {
  if (op.op === 'remove') {
    delete doc[urn];
    return;
  }
  if (!op.value || typeof op.value !== 'object' || Array.isArray(op.value))
    throw invalidValue(`${op.op} of "${urn}" needs an object value`);
  if (op.op === 'replace') delete doc[urn];
  for (const [k, v] of Object.entries(op.value as Record<string, unknown>))
    applyAtPath(doc, resolvePath(kind, `${urn}:${k}`), { ...op, value: v });
}

function applyPathless(kind: ResourceKind, doc: Doc, op: PatchOperation) {
  if (op.op === 'remove') throw noTarget('remove needs a path');
  if (!op.value || typeof op.value !== 'object' || Array.isArray(op.value))
    throw invalidValue(`${op.op} without a path needs an object value`);
  for (const [key, value] of Object.entries(op.value as Record<string, unknown>)) {
    if (key.toLowerCase() === 'schemas' || key.toLowerCase() === 'id' || key.toLowerCase() === 'meta') continue;
    const ext = resourceSchemas[kind].extensions.find((e) => e.id.toLowerCase() === key.toLowerCase());
    if (ext && value && typeof value === 'object' && !Array.isArray(value)) {
      // {"urn:...:enterprise:2.0:User": {"department": "x"}}: each key is an attribute of the extension.
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        applyAtPath(doc, resolvePath(kind, `${ext.id}:${k}`), { ...op, value: v });
      continue;
    }
    let target: Target | undefined;
    try {
      target = resolvePath(kind, key);
    } catch (err) {
      // Attributes no schema knows round-trip unchanged; anything else (read-only, bad sub-attribute) is an error.
      if (
        err instanceof ScimError &&
        err.scimType === 'invalidPath' &&
        !key.includes('.') &&
        !key.includes('[') &&
        !key.includes(':')
      ) {
        const normalized = normalizeResource(kind, { [key]: value });
        Object.assign(doc, normalized);
        continue;
      }
      throw err;
    }
    applyAtPath(doc, target, { ...op, value });
  }
}

function container(doc: Doc, urn: string | undefined, create: boolean): Doc | undefined {
  if (!urn) return doc;
  const existing = doc[urn];
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing as Doc;
  if (!create) return undefined;
  const fresh: Doc = {};
  doc[urn] = fresh;
  return fresh;
}

/** Single-valued attributes with no unassigned state here: every person is active or suspended. */
const UNREMOVABLE = new Set(['active']);

function applyAtPath(doc: Doc, t: Target, op: PatchOperation) {
  const name = t.def.name;
  if (op.op === 'remove') {
    // Attributes a person cannot be without: unassigning them is refused (docs/decisions/0005).
    if (!t.sub && (t.def.required || UNREMOVABLE.has(name)))
      throw mutability(`"${name}" cannot be removed; replace it`);
    const c = container(doc, t.urn, false);
    if (!c || c[name] === undefined) return; // removing what is not there changes nothing
    if (t.def.multiValued) {
      let list = asList(c[name]);
      if (t.filter) {
        const f = t.filter;
        if (t.sub) list.filter((el) => matches(el, f, t.def)).forEach((el) => delete el[t.sub!.name]);
        else list = list.filter((el) => !matches(el, f, t.def));
      } else if (op.value !== undefined && op.value !== null) {
        // Entra/Okta: {"op":"remove","path":"members","value":[{"value":"id1"},{"value":"id2"}]}
        const drop = asList(normalizeValue(t.def, op.value)).map((v) => String(v.value ?? '').toLowerCase());
        list = list.filter((el) => !drop.includes(String(el.value ?? '').toLowerCase()));
      } else if (t.sub) {
        list.forEach((el) => delete el[t.sub!.name]);
      } else {
        list = [];
      }
      if (list.length) c[name] = list;
      else delete c[name];
      return;
    }
    if (t.sub) {
      const obj = c[name];
      if (obj && typeof obj === 'object') delete (obj as Doc)[t.sub.name];
    } else {
      delete c[name];
    }
    return;
  }

  // add / replace
  if (op.value === undefined) throw invalidValue(`${op.op} of "${name}" needs a value`);
  const c = container(doc, t.urn, true)!;
  if (t.def.multiValued) {
    const current = asList(c[name]);
    if (t.filter) {
      const hits = current.filter((el) => matches(el, t.filter!, t.def));
      if (hits.length === 0) {
        // Entra replaces emails[type eq "work"].value on a user who has no work email yet: create it
        // from the filter's equality conditions rather than failing with noTarget.
        const seed = equalitySeed(t.filter);
        if (!seed) throw noTarget(`No value of "${name}" matches the path filter`);
        const el: Doc = { ...seed };
        if (t.sub) el[t.sub.name] = normalizeValue(t.sub, op.value);
        else Object.assign(el, asList(normalizeValue(t.def, op.value))[0] ?? {});
        current.push(el);
      }
      for (const el of hits) {
        if (t.sub) el[t.sub.name] = normalizeValue(t.sub, op.value);
        else {
          const v = asList(normalizeValue(t.def, op.value))[0] ?? {};
          if (op.op === 'replace') for (const k of Object.keys(el)) delete el[k];
          Object.assign(el, v);
        }
      }
      c[name] = current;
      return;
    }
    if (t.sub) {
      // emails.value without a filter: applies to every element (RFC 7644 §3.5.2.3 rule for sub-attributes)
      if (current.length === 0) current.push({});
      current.forEach((el) => (el[t.sub!.name] = normalizeValue(t.sub!, op.value)));
      c[name] = current;
      return;
    }
    const incoming = asList(normalizeValue(t.def, op.value)).filter((v) => v && typeof v === 'object');
    if (op.op === 'replace') {
      c[name] = incoming;
      return;
    }
    const key = (v: Doc) => (v.value === undefined ? JSON.stringify(v) : String(v.value).toLowerCase());
    const seen = new Set(current.map(key));
    for (const v of incoming)
      if (!seen.has(key(v))) {
        current.push(v);
        seen.add(key(v));
      }
    c[name] = current;
    return;
  }
  if (t.sub) {
    const obj = c[name] && typeof c[name] === 'object' && !Array.isArray(c[name]) ? (c[name] as Doc) : {};
    obj[t.sub.name] = normalizeValue(t.sub, op.value);
    c[name] = obj;
    return;
  }
  const value = normalizeValue(t.def, op.value);
  if (
    t.def.type === 'complex' &&
    op.op === 'add' &&
    value &&
    typeof value === 'object' &&
    c[name] &&
    typeof c[name] === 'object'
  ) {
    c[name] = { ...(c[name] as Doc), ...(value as Doc) }; // add merges sub-attributes (§3.5.2.1)
  } else {
    c[name] = value;
  }
}

const asList = (v: unknown): Doc[] =>
  Array.isArray(v)
    ? v.filter((x) => x && typeof x === 'object').map((x) => x as Doc)
    : v && typeof v === 'object'
      ? [v as Doc]
      : [];

/** The `a eq x and b eq y` conditions of a filter, as an element to create, or null. */
function equalitySeed(f: Filter): Doc | null {
  if (f.op === 'eq') {
    const c = f as { attrPath: string; compValue: unknown };
    return { [c.attrPath.split('.').pop()!]: c.compValue };
  }
  if (f.op === 'and') {
    const out: Doc = {};
    for (const x of (f as { filters: Filter[] }).filters) {
      const s = equalitySeed(x);
      if (!s) return null;
      Object.assign(out, s);
    }
    return out;
  }
  return null;
}

/** In-memory evaluation of a value-path filter against ONE element of a multi-valued attribute. */
export function matches(el: Doc, f: Filter, def: AttrDef): boolean {
  switch (f.op) {
    case 'and':
      return (f as { filters: Filter[] }).filters.every((x) => matches(el, x, def));
    case 'or':
      return (f as { filters: Filter[] }).filters.some((x) => matches(el, x, def));
    case 'not':
      return !matches(el, (f as { filter: Filter }).filter, def);
    case '[]':
      throw invalidPath('Nested value paths are not allowed');
    default: {
      const c = f as { op: string; attrPath: string; compValue?: unknown };
      const name = c.attrPath.toLowerCase().startsWith(`${def.name.toLowerCase()}.`)
        ? c.attrPath.slice(def.name.length + 1)
        : c.attrPath;
      const sub = findAttr(def.subAttributes, name);
      if (!sub) throw invalidPath(`Unknown sub-attribute "${c.attrPath}" in path filter`);
      return compare(el[sub.name], c.op, c.compValue, sub);
    }
  }
}

function compare(actual: unknown, op: string, expected: unknown, def: AttrDef): boolean {
  if (op === 'pr') return actual !== undefined && actual !== null && actual !== '';
  if (def.type === 'boolean') {
    const a = coerceBoolean(actual) === true;
    const e = coerceBoolean(expected) === true;
    return op === 'eq' ? a === e : op === 'ne' ? a !== e : false;
  }
  if (actual === undefined || actual === null) return op === 'ne';
  const fold = (v: unknown) => (def.caseExact ? String(v) : String(v).toLowerCase());
  const a = fold(actual);
  const e = fold(expected);
  switch (op) {
    case 'eq':
      return a === e;
    case 'ne':
      return a !== e;
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    case 'gt':
      return a > e;
    case 'ge':
      return a >= e;
    case 'lt':
      return a < e;
    case 'le':
      return a <= e;
    default:
      return false;
  }
}
