import type { Context } from 'hono';
import type { AppError } from '../src/errors.js';
import { checkWrite } from './limits.js';
import { httpStatusOf, toAppError } from '../src/http/errors.js';
import { readJsonObject, resourceLocation, type Json, type ScimDeps } from './common.js';
import { ScimError, scimErrorJson } from './errors.js';
import { createGroupFrom, deleteGroupById, patchGroup, replaceGroup } from './resources/groups.js';
import { createUser, deleteUser, patchUser, replaceUser } from './resources/users.js';
import { URN, type ResourceKind } from './schemas.js';

/**
 * POST /Bulk (RFC 7644 §3.7). Operations run in order, each in its own transaction (the RFC makes
 * a bulk request non-atomic); `bulkId:x` references resolve to ids created earlier in the request,
 * and an operation whose reference is created later waits for it (§3.7.2). Circular references
 * (§3.7.1: two groups, each a member of the other) are resolved as the RFC asks: a waiting POST is
 * created without the values that name still-uncreated resources, and those values are added by a
 * PATCH once every resource in the cycle exists. failOnErrors stops after that many errors.
 * maxOperations is enforced here, maxPayloadSize by the route's body limit.
 */
interface BulkOp {
  method: string;
  bulkId?: string;
  version?: string;
  path: string;
  data?: unknown;
}
interface OpResult {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string;
  response?: unknown;
}

const bad = (m: string, scimType: 'invalidSyntax' | 'invalidValue' | 'invalidPath' = 'invalidSyntax') =>
  new ScimError(400, scimType, m);

function readOps(body: Json, maxOperations: number): { ops: BulkOp[]; failOnErrors: number } {
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
  const ops = key ? body[key] : undefined;
  if (!Array.isArray(ops)) throw bad('BulkRequest needs an "Operations" array');
  if (ops.length > maxOperations) {
    throw new ScimError(413, undefined, `Bulk request has ${ops.length} operations; maxOperations is ${maxOperations}`);
  }
  const failRaw = body.failOnErrors;
  if (failRaw !== undefined && (!Number.isInteger(failRaw) || (failRaw as number) < 1))
    throw bad('failOnErrors must be a positive integer', 'invalidValue');
  return {
    failOnErrors: (failRaw as number | undefined) ?? Infinity,
    ops: ops.map((o, i) => {
      if (!o || typeof o !== 'object') throw bad(`Operations[${i}] is not an object`);
      const op = Object.fromEntries(Object.entries(o as Json).map(([k, v]) => [k.toLowerCase(), v]));
      if (typeof op.method !== 'string' || typeof op.path !== 'string')
        throw bad(`Operations[${i}] needs method and path`);
      return {
        method: op.method.toUpperCase(),
        bulkId: typeof op.bulkid === 'string' ? op.bulkid : undefined,
        version: typeof op.version === 'string' ? op.version : undefined,
        path: op.path,
        data: op.data,
      };
    }),
  };
}

const REF = /bulkId:([\w.~-]+)/g;
/** Replaces bulkId references in a JSON value; returns the ids still unknown. */
function resolveRefs(value: unknown, ids: Map<string, string>): { value: unknown; missing: string[] } {
  const missing: string[] = [];
  const text = JSON.stringify(value ?? null).replace(REF, (m, id: string) => {
    const known = ids.get(id);
    if (!known) missing.push(id);
    return known ?? m;
  });
  return { value: JSON.parse(text), missing };
}

const refsIn = (value: unknown): string[] => [...JSON.stringify(value ?? null).matchAll(REF)].map((m) => m[1]);

interface Deferred {
  index: number;
  kind: ResourceKind;
  id: string;
  /** PATCH operations (with bulkId references) that put back what creation had to leave out. */
  operations: Array<{ op: 'add'; path: string; value: unknown }>;
}

/**
 * Splits a POST body into what can be created now and PATCH `add` operations for the values whose
 * references are not created yet: whole items of multi-valued attributes (members, emails…) and
 * single-valued attributes, at the top level or inside an extension. Null when a reference sits
 * anywhere a PATCH path cannot reach.
 */
function deferUnresolved(data: Json, ids: Map<string, string>): { now: Json; later: Deferred['operations'] } | null {
  const later: Deferred['operations'] = [];
  const unresolved = (v: unknown) => refsIn(v).some((id) => !ids.has(id));
  const split = (doc: Json, prefix: string): Json | null => {
    const now: Json = {};
    for (const [key, value] of Object.entries(doc)) {
      if (!unresolved(value)) {
        now[key] = value;
      } else if (Array.isArray(value)) {
        const [waiting, ready] = [value.filter(unresolved), value.filter((v) => !unresolved(v))];
        if (ready.length) now[key] = ready;
        later.push({ op: 'add', path: `${prefix}${key}`, value: waiting });
      } else if (key.startsWith('urn:') && value && typeof value === 'object') {
        const inner = split(value as Json, `${key}:`);
        if (!inner) return null;
        now[key] = inner;
      } else if (prefix || key !== 'schemas') {
        later.push({ op: 'add', path: `${prefix}${key}`, value });
      } else {
        return null;
      }
    }
    return now;
  };
  const now = split(data, '');
  return now && later.length ? { now, later } : null;
}

function errorResult(op: BulkOp, err: AppError): OpResult {
  return {
    method: op.method,
    ...(op.bulkId ? { bulkId: op.bulkId } : {}),
    status: String(httpStatusOf(err)),
    response: scimErrorJson(err),
  };
}

async function runOne(deps: ScimDeps, c: Context, op: BulkOp, path: string, data: unknown): Promise<OpResult> {
  const m = /^\/(Users|Groups)(?:\/([^/]+))?$/i.exec(path);
  if (!m) throw bad(`Unsupported bulk path "${path}"`, 'invalidPath');
  const kind: ResourceKind = m[1].toLowerCase() === 'users' ? 'User' : 'Group';
  const id = m[2];
  const body = (data ?? {}) as Json;
  if (data !== undefined && (typeof data !== 'object' || Array.isArray(data) || data === null))
    throw bad('data must be an object');
  checkWrite(op.method, body, deps.config.scim.limits);
  const done = (status: number, row: { id: string; version: number } | null): OpResult => ({
    method: op.method,
    ...(op.bulkId ? { bulkId: op.bulkId } : {}),
    ...(row ? { location: resourceLocation(deps.config, kind, row.id), version: `W/"${row.version}"` } : {}),
    status: String(status),
  });
  if (op.method === 'POST') {
    if (id) throw bad('POST path must not name a resource', 'invalidPath');
    return done(201, kind === 'User' ? await createUser(deps, c, body) : await createGroupFrom(deps, c, body));
  }
  if (!id) throw bad(`${op.method} path must name a resource`, 'invalidPath');
  switch (op.method) {
    case 'PUT':
      return done(
        200,
        kind === 'User'
          ? await replaceUser(deps, c, id, body, op.version)
          : await replaceGroup(deps, c, id, body, op.version),
      );
    case 'PATCH':
      return done(
        200,
        kind === 'User'
          ? await patchUser(deps, c, id, body, op.version)
          : await patchGroup(deps, c, id, body, op.version, false),
      );
    case 'DELETE':
      if (kind === 'User') await deleteUser(deps, c, id, op.version);
      else await deleteGroupById(deps, c, id, op.version);
      return { ...done(204, null), location: resourceLocation(deps.config, kind, id) };
    default:
      throw bad(`Unsupported bulk method "${op.method}"`);
  }
}

export async function handleBulk(deps: ScimDeps, c: Context, charge: (units: number) => Promise<void>): Promise<Json> {
  const { ops, failOnErrors } = readOps(await readJsonObject(c), deps.config.scim.bulkMaxOperations);
  // The request itself was charged one unit by the rate limiter; each further operation costs one.
  if (ops.length > 1) await charge(ops.length - 1);
  const ids = new Map<string, string>();
  const results: Array<OpResult | undefined> = new Array(ops.length);
  let pending = ops.map((_, i) => i);
  const deferred: Deferred[] = [];
  let errors = 0;
  // Each pass runs what it can; an operation whose bulkId reference is not known yet waits for a
  // later pass. A pass that makes no progress leaves only unresolvable (or circular) references.
  while (pending.length && errors < failOnErrors) {
    const waiting: number[] = [];
    for (const i of pending) {
      if (errors >= failOnErrors) break;
      const op = ops[i];
      const path = resolveRefs(op.path, ids);
      const data =
        op.data === undefined || op.data === null ? { value: undefined, missing: [] } : resolveRefs(op.data, ids);
      if (path.missing.length || data.missing.length) {
        waiting.push(i);
        continue;
      }
      try {
        const r = await runOne(deps, c, op, path.value as string, data.value);
        if (op.bulkId && r.location) ids.set(op.bulkId, r.location.slice(r.location.lastIndexOf('/') + 1));
        results[i] = r;
      } catch (err) {
        results[i] = errorResult(op, toAppError(err));
        errors++;
      }
    }
    if (waiting.length === pending.length) {
      // No progress: if a waiting POST names only resources other waiting POSTs will create (a
      // cycle), create it without those values and go round again.
      const creatable = new Set(waiting.filter((i) => ops[i].method === 'POST').map((i) => ops[i].bulkId));
      const breaker = waiting.find((i) => {
        const op = ops[i];
        return (
          op.method === 'POST' &&
          op.bulkId !== undefined &&
          resolveRefs(op.path, ids).missing.length === 0 &&
          resolveRefs(op.data, ids).missing.every((id) => creatable.has(id) && id !== op.bulkId)
        );
      });
      const split = breaker === undefined ? null : deferUnresolved(ops[breaker].data as Json, ids);
      if (breaker !== undefined && split) {
        const op = ops[breaker];
        try {
          const r = await runOne(deps, c, op, op.path, resolveRefs(split.now, ids).value);
          const id = (r.location as string).slice((r.location as string).lastIndexOf('/') + 1);
          ids.set(op.bulkId as string, id);
          results[breaker] = r;
          deferred.push({
            index: breaker,
            kind: /^\/users/i.test(op.path) ? 'User' : 'Group',
            id,
            operations: split.later,
          });
        } catch (err) {
          results[breaker] = errorResult(op, toAppError(err));
          errors++;
        }
        pending = waiting.filter((i) => i !== breaker);
        continue;
      }
      for (const i of waiting) {
        if (errors >= failOnErrors) break;
        results[i] = errorResult(
          ops[i],
          bad(`Unresolvable bulkId reference in operation ${ops[i].bulkId ?? i}`, 'invalidValue'),
        );
        errors++;
      }
      break;
    }
    pending = waiting;
  }
  // Put back the values a cycle made us leave out; a reference whose operation failed cannot be
  // resolved, and that operation's result says so with 409 (the resource exists without it).
  for (const d of deferred) {
    const result = results[d.index] as OpResult;
    const { value, missing } = resolveRefs(d.operations, ids);
    try {
      if (missing.length)
        throw new ScimError(409, undefined, `Created, but bulkId ${missing.join(', ')} could not be resolved`);
      const body = { schemas: [URN.patchOp], Operations: value } as Json;
      const row =
        d.kind === 'User'
          ? await patchUser(deps, c, d.id, body, undefined)
          : await patchGroup(deps, c, d.id, body, undefined, false);
      if (row) result.version = `W/"${row.version}"`;
    } catch (err) {
      results[d.index] = { ...errorResult(ops[d.index], toAppError(err)), location: result.location };
      errors++;
    }
  }
  return { schemas: [URN.bulkResponse], Operations: results.filter((r): r is OpResult => r !== undefined) };
}
