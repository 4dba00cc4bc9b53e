import type { MiddlewareHandler } from 'hono';
import type { Filter } from 'scim2-parse-filter';
import type { Config } from '../src/config.js';
import { bodyLimit } from '../src/http/middleware.js';
import { ScimError } from './errors.js';
import { invalidFilter, parseScimFilter } from './filter.js';

/**
 * Work per request is bounded before any query runs (issue #11 §1). A filter's cost in PostgreSQL
 * grows with the number of its clauses (200 `emails[value co "…"]` joined by `and` kept a backend
 * busy planning for ~9-12 s on a tenant of 3 users), so a parsed filter may hold at most
 * `filterMaxComplexity` comparisons and value-path filters; /.search bodies are capped at
 * `searchMaxBytes`; string values and whole resources written by POST, PUT and PATCH are capped.
 * The statement timeout (src/db/connect.ts) is the backstop for whatever gets past these.
 */
export type ScimLimits = Config['scim']['limits'];

/** Comparisons (`eq`, `co`, `pr`, …) and value-path filters (`emails[…]`) in a parsed filter. */
export function filterComplexity(f: Filter): number {
  const node = f as { op: string; filters?: Filter[]; filter?: Filter; valFilter?: Filter };
  if (node.op === 'and' || node.op === 'or') return (node.filters ?? []).reduce((n, x) => n + filterComplexity(x), 0);
  if (node.op === 'not') return filterComplexity(node.filter as Filter);
  if (node.op === '[]') return 1 + filterComplexity(node.valFilter as Filter);
  return 1;
}

/** Strings whose length (in UTF-8 bytes) is capped; the resource as a whole is capped too, minus `members`. */
const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * Refuses oversized values in a resource body: any string value (userName, displayName, name parts,
 * emails and phone numbers, addresses, extension attributes) over `maxStringBytes`, and the whole
 * resource over `maxResourceBytes` not counting `members` (a group's size is its membership, which
 * is bounded by the tenant's users rather than by this cap; each member value is still capped).
 */
export function checkResourceSize(body: unknown, limits: ScimLimits): void {
  let tooDeep = false;
  const walk = (v: unknown, path: string, depth: number): void => {
    // Nesting this deep is refused by the handler (scim/common.ts readJsonObject) in its own words.
    if (depth > 64) {
      tooDeep = true;
      return;
    }
    if (typeof v === 'string') {
      if (utf8(v) > limits.maxStringBytes)
        throw new ScimError(
          400,
          'invalidValue',
          `Attribute "${path || 'value'}" is ${utf8(v)} bytes, at most ${limits.maxStringBytes} allowed`,
        );
    } else if (Array.isArray(v)) for (const x of v) walk(x, path, depth + 1);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k, depth + 1);
  };
  walk(body, '', 0);
  if (!tooDeep && body && typeof body === 'object' && !Array.isArray(body)) {
    const { members: _members, ...rest } = body as Record<string, unknown>;
    const size = utf8(JSON.stringify(rest));
    if (size > limits.maxResourceBytes)
      throw new ScimError(400, 'invalidValue', `Resource is ${size} bytes, at most ${limits.maxResourceBytes} allowed`);
  }
}

/** The filters inside PATCH paths: `emails[type eq "work"].value` → `type eq "work"`. */
function pathFilters(body: unknown): string[] {
  const ops = (body as { Operations?: unknown } | null)?.Operations;
  if (!Array.isArray(ops)) return [];
  return ops
    .map((op) => (op && typeof op === 'object' ? (op as { path?: unknown }).path : undefined))
    .filter((p): p is string => typeof p === 'string')
    .map((p) => /\[(.*)\]/s.exec(p)?.[1])
    .filter((f): f is string => f !== undefined);
}

/** Only the complexity: a filter that does not parse is the handler's error to give, in its words. */
function checkComplexity(text: string, limits: ScimLimits): void {
  let filter: Filter;
  try {
    filter = parseScimFilter(text);
  } catch {
    return;
  }
  const n = filterComplexity(filter);
  if (n > limits.filterMaxComplexity)
    throw invalidFilter(
      `Filter too complex: ${n} comparisons and value-path filters, at most ${limits.filterMaxComplexity} allowed`,
    );
}

/** The checks on a write's body (POST, PUT, PATCH), on its own or as one Bulk operation's data. */
export function checkWrite(method: string, body: unknown, limits: ScimLimits): void {
  if (method === 'PATCH') {
    for (const f of pathFilters(body)) checkComplexity(f, limits);
    const ops = (body as { Operations?: unknown } | undefined)?.Operations;
    if (Array.isArray(ops)) for (const op of ops) checkResourceSize((op as { value?: unknown })?.value, limits);
  } else if (method === 'POST' || method === 'PUT') checkResourceSize(body, limits);
}

const parsed = async (text: () => Promise<string>): Promise<unknown> => {
  try {
    return JSON.parse(await text());
  } catch {
    return undefined; // the handler answers malformed JSON in its own words
  }
};

/**
 * One middleware for the SCIM app: checks run on the request as sent, before the handler. The body
 * text is cached by Hono, so the handler reads it again for free. Bulk applies the same checks per
 * operation (scim/bulk.ts) so one oversized operation fails alone.
 */
export function limitsMiddleware(limits: ScimLimits): MiddlewareHandler {
  const searchLimit = bodyLimit(limits.searchMaxBytes);
  return async (c, next) => {
    const method = c.req.method;
    const isSearch = method === 'POST' && c.req.path.endsWith('/.search');
    const check = async () => {
      const filter = c.req.query('filter');
      if (method === 'GET' && filter !== undefined && filter.trim()) checkComplexity(filter, limits);
      if (isSearch) {
        const body = (await parsed(() => c.req.text())) as { filter?: unknown } | undefined;
        const f = body && typeof body === 'object' ? body.filter : undefined;
        if (typeof f === 'string' && f.trim()) checkComplexity(f, limits);
        return;
      }
      if (c.req.path.endsWith('/Bulk')) return;
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
        const body = await parsed(() => c.req.text());
        checkWrite(method, body, limits);
      }
    };
    if (isSearch)
      return searchLimit(c, async () => {
        await check();
        await next();
      });
    await check();
    await next();
  };
}
