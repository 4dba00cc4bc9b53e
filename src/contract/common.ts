import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { ValidationError } from '../errors.js';
import { UUID } from '../ids.js';

/**
 * Pieces every /api/v1 contract shares: the problem body, path parameters, pagination, and the
 * router factory whose validation failures become the same 400 the domain's parseInput throws.
 */

/** Same words as src/domain/validate.ts parseInput, so a request refused at the edge reads as before. */
export function validationError(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): ValidationError {
  const path = (i: { path: PropertyKey[] }) => i.path.map(String).join('.');
  return new ValidationError(issues.map((i) => (i.path.length ? `${path(i)}: ${i.message}` : i.message)).join('; '), {
    details: { issues: issues.map((i) => ({ path: path(i), message: i.message })) },
  });
}

/** Parses with a contract schema outside a route's validators (the /authorize hot path reads its own body). */
export function parseContract<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw validationError(r.error.issues);
  return r.data;
}

/** A router for contract routes: validation failures are thrown, so src/http/errors.ts maps them in one place. */
export function contractRouter<E extends Env = Env>() {
  return new OpenAPIHono<E>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error.issues);
    },
  });
}

export const Problem = z
  .object({
    type: z.string(),
    title: z.string().openapi({ description: 'stable error code' }),
    status: z.number().int(),
    detail: z.string(),
    requestId: z.string().optional(),
  })
  .openapi('Problem');

export const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T, description?: string) => ({
  required: true,
  description,
  content: { 'application/json': { schema } },
});

export const authErrors = {
  401: problem('No valid admin token or session'),
  403: problem('Not allowed (a session without the privilege, or a token of another kind)'),
};

export const adminErrors = {
  401: problem('Missing or invalid admin token'),
  403: problem('Not a tenant admin token'),
};

export const courseRef = z.string().openapi({ description: 'course id or key:<SIS key>' });
export const personRef = z
  .string()
  .openapi({ description: 'person id, email:<address> or key:<externalId or userName>' });

export const CourseParams = z.object({ id: courseRef });
export const CoursePersonParams = z.object({ id: courseRef, personRef });

/** A uuid in a path or query, refused with the given words (e.g. "after: a cursor from `next`"). */
export const uuidParam = (message: string) => z.string().regex(UUID, message).openapi({ format: 'uuid' });

/** Page size as today: a number in the query string, lenient (the handler clamps it). */
export const limitQuery = (max: number, fallback: number) =>
  z
    .string()
    .optional()
    .openapi({ type: 'integer', description: `page size, at most ${max} (default ${fallback})` });

export const Page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next: z.string().nullable().openapi({ description: 'pass as `after`' }) });
