import type { Context } from 'hono';
import type { Config } from '../src/config.js';
import type { ActorContext, Store } from '../src/db/store.js';
import { SCIM_CONTENT_TYPE, ScimError } from './errors.js';
import { splitAttrPath } from './filter.js';
import type { ResourceKind } from './schemas.js';

export interface ScimDeps {
  store: Store;
  config: Config;
}

export type Json = Record<string, unknown>;

export function scimJson(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': SCIM_CONTENT_TYPE, ...headers } });
}

/** Every write is audited with the token as actor. */
export function actorOf(c: Context): ActorContext {
  return { actor: `scim-token:${c.get('auth').tokenId}`, requestId: c.get('requestId') };
}

/** No SCIM resource nests deeply; bounding depth keeps recursive code and jsonb input safe. */
const MAX_JSON_DEPTH = 32;
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return max;
}

/** Reads a JSON object body whatever the Content-Type (clients send application/json too). */
export async function readJsonObject(c: Context): Promise<Json> {
  const text = await c.req.text();
  if (!text.trim()) throw new ScimError(400, 'invalidSyntax', 'Request body is empty');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ScimError(400, 'invalidSyntax', `Request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ScimError(400, 'invalidSyntax', 'Request body must be a JSON object');
  if (depthOf(body) > MAX_JSON_DEPTH)
    throw new ScimError(400, 'invalidValue', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  // PostgreSQL text and jsonb cannot hold NUL: refuse it here rather than fail in the database.
  if (/\\u0000/i.test(text)) throw new ScimError(400, 'invalidValue', 'Strings must not contain NUL (\\u0000)');
  return body as Json;
}

/**
 * Longest value accepted for attributes that are indexed (userName, externalId, email values,
 * group displayName): a B-tree entry must fit in a third of a page, so longer ones would fail in
 * the database instead of being refused here.
 */
export const MAX_INDEXED_LENGTH = 1024;
export function assertIndexable(name: string, value: string | null): void {
  if (value !== null && value.length > MAX_INDEXED_LENGTH) {
    throw new ScimError(400, 'invalidValue', `${name} is longer than ${MAX_INDEXED_LENGTH} characters`);
  }
}

export const etagOf = (version: number) => `W/"${version}"`;

/**
 * If-Match as a version predicate (undefined when absent). Weak and strong forms of our ETag both
 * match; `*` matches any existing resource.
 */
export function ifMatchOf(header: string | undefined): ((version: number) => boolean) | undefined {
  if (!header) return undefined;
  const tags = header.split(',').map((s) => s.trim());
  if (tags.includes('*')) return () => true;
  const versions = new Set(tags.map((tag) => /^(?:W\/)?"?(\d+)"?$/.exec(tag)?.[1]).filter(Boolean));
  return (v) => versions.has(String(v));
}

export function notModified(c: Context, version: number): boolean {
  const h = c.req.header('if-none-match');
  if (!h) return false;
  return h
    .split(',')
    .some((tag) => tag.trim() === '*' || /^(?:W\/)?"?(\d+)"?$/.exec(tag.trim())?.[1] === String(version));
}

export interface ListParams {
  filter?: string;
  startIndex: number;
  count: number;
  sortBy?: string;
  sortOrder: 'ascending' | 'descending';
  attributes?: string[];
  excludedAttributes?: string[];
  /** RFC 9865: present (possibly empty) selects cursor paging. */
  cursor?: string;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

const splitList = (v: unknown): string[] | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const list = Array.isArray(v) ? v.map(String) : String(v).split(',');
  return list.map((s) => s.trim()).filter(Boolean);
};

/** List parameters from a GET query or a POST /.search body (RFC 7644 §3.4.3). */
export function readListParams(source: Record<string, unknown>): ListParams {
  const get = (name: string) => {
    const key = Object.keys(source).find((k) => k.toLowerCase() === name.toLowerCase());
    return key === undefined ? undefined : source[key];
  };
  const int = (name: string) => {
    const raw = get(name);
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n))
      throw new ScimError(400, name === 'count' ? 'invalidCount' : 'invalidValue', `${name} must be an integer`);
    return n;
  };
  const sortOrder = String(get('sortOrder') ?? 'ascending').toLowerCase();
  if (sortOrder !== 'ascending' && sortOrder !== 'descending')
    throw new ScimError(400, 'invalidValue', 'sortOrder must be ascending or descending');
  const cursor = get('cursor');
  return {
    filter: get('filter') === undefined ? undefined : String(get('filter')),
    // RFC 7644 §3.4.2.4: below 1 is read as 1; a negative count as 0; over the cap, the cap.
    // …and beyond any real list, an empty page (capped so OFFSET stays a valid bigint).
    startIndex: Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, int('startIndex') ?? 1)),
    count: Math.min(MAX_PAGE_SIZE, Math.max(0, int('count') ?? DEFAULT_PAGE_SIZE)),
    sortBy: get('sortBy') ? String(get('sortBy')) : undefined,
    sortOrder,
    attributes: splitList(get('attributes')),
    excludedAttributes: splitList(get('excludedAttributes')),
    cursor: cursor === undefined ? undefined : String(cursor),
  };
}

export function encodeCursor(id: string): string {
  return Buffer.from(`v1:${id}`).toString('base64url');
}
export function decodeCursor(cursor: string): string | null {
  if (cursor === '') return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^v1:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(text);
  if (!m) throw new ScimError(400, 'invalidCursor', 'Invalid cursor');
  return m[1];
}

// ---------------------------------------------------------------------------------------------
// attributes / excludedAttributes (RFC 7644 §3.4.2.5), applied to rendered resources.

const ALWAYS = new Set(['id', 'schemas']);
interface AttrRef {
  urn?: string;
  parts: string[];
}
function refOf(path: string): AttrRef {
  // `emails[type eq "work"]` in an attribute list names the attribute emails.
  return splitAttrPath(path.replace(/\[.*\]/s, ''));
}
const keyIn = (obj: Json, name: string) => Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());

export function project(resource: Json, attributes?: string[], excluded?: string[]): Json {
  if (attributes?.length) {
    const out: Json = {};
    for (const k of Object.keys(resource)) if (ALWAYS.has(k)) out[k] = resource[k];
    for (const ref of attributes.map(refOf)) copyPath(resource, out, ref);
    return out;
  }
  if (excluded?.length) {
    const out = structuredClone(resource);
    for (const ref of excluded.map(refOf)) deletePath(out, ref);
    return out;
  }
  return resource;
}

function containerOf(obj: Json, urn: string | undefined): Json | undefined {
  if (!urn || !(urn in obj)) return urn ? undefined : obj;
  const c = obj[urn];
  return c && typeof c === 'object' ? (c as Json) : undefined;
}

function copyPath(src: Json, dst: Json, ref: AttrRef) {
  const from = ref.urn && ref.urn in src ? containerOf(src, ref.urn) : src;
  if (!from) return;
  if (ref.parts.length === 0) {
    if (ref.urn && ref.urn in src) dst[ref.urn] = src[ref.urn];
    return;
  }
  let to = dst;
  if (ref.urn && ref.urn in src) to = (dst[ref.urn] ??= {}) as Json;
  const k = keyIn(from, ref.parts[0]);
  if (!k) return;
  if (ref.parts.length === 1) {
    to[k] = from[k];
    return;
  }
  const v = from[k];
  const subName = ref.parts[1];
  if (Array.isArray(v)) {
    to[k] = v.map((el) => {
      const sk = el && typeof el === 'object' ? keyIn(el as Json, subName) : undefined;
      return sk ? { [sk]: (el as Json)[sk] } : {};
    });
  } else if (v && typeof v === 'object') {
    const sk = keyIn(v as Json, subName);
    if (sk) to[k] = { ...((to[k] as Json) ?? {}), [sk]: (v as Json)[sk] };
  }
}

function deletePath(obj: Json, ref: AttrRef) {
  const c = ref.urn && ref.urn in obj ? containerOf(obj, ref.urn) : obj;
  if (!c) return;
  if (ref.parts.length === 0) {
    if (ref.urn) delete obj[ref.urn];
    return;
  }
  const k = keyIn(c, ref.parts[0]);
  if (!k || ALWAYS.has(k)) return;
  if (ref.parts.length === 1) {
    delete c[k];
    return;
  }
  const v = c[k];
  for (const el of Array.isArray(v) ? v : [v]) {
    if (el && typeof el === 'object') {
      const sk = keyIn(el as Json, ref.parts[1]);
      if (sk) delete (el as Json)[sk];
    }
  }
}

/** True when the projection will include the named top-level attribute (to skip loading it). */
export function wants(name: string, attributes?: string[], excluded?: string[]): boolean {
  const top = (p: string) => refOf(p).parts[0]?.toLowerCase();
  if (attributes?.length) return attributes.some((a) => top(a) === name.toLowerCase());
  if (excluded?.length) return !excluded.some((a) => refOf(a).parts.length === 1 && top(a) === name.toLowerCase());
  return true;
}

export function listResponse(resources: Json[], total: number, startIndex: number, extra: Json = {}) {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    totalResults: total,
    itemsPerPage: resources.length,
    startIndex,
    ...extra,
    Resources: resources,
  };
}

export const resourceLocation = (config: Config, kind: ResourceKind, id: string) =>
  `${config.publicUrl}/scim/v2/${kind === 'User' ? 'Users' : 'Groups'}/${id}`;

/** Removes nulls recursively: RFC 7643 §2.5 treats null as unassigned (e.g. Entra's `"$ref": null`). */
export function stripNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined).map(stripNulls) as T;
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) if (v !== null && v !== undefined) out[k] = stripNulls(v);
    return out as T;
  }
  return value;
}
