import { Hono } from 'hono';
import type { Store } from '../db/store.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { AuthorizationCache, authorize } from '../domain/authorize.js';
import { bulkEnrol } from '../domain/bulk-enrolment.js';
import { getCourse } from '../domain/courses.js';
import { acceptInvitation, listInvitations, resendInvitation, type InviteSettings } from '../domain/invitations.js';
import { listMemberships, removeMembership, setMembership } from '../domain/memberships.js';
import { mergeInTransaction, mergePeople } from '../domain/merge.js';
import { Outbox } from '../domain/outbox.js';
import { getPersonById, parsePersonRef } from '../domain/person-reference.js';
import {
  addCatalogueEntry,
  catalogue,
  clearPersonPrivileges,
  effectiveOne,
  groupGrants,
  listCoursePrivileges,
  MANAGE,
  roleDefaults,
  setGroupPrivileges,
  setPersonPrivileges,
  setRoleDefaults,
} from '../domain/privileges/index.js';
import { ForbiddenError, ValidationError } from '../errors.js';
import { actorOf, fastJsonBody, jsonBody, principalOf, requireAdmin } from './api-auth.js';
import { courseRoutes, coursesOpenApi } from './api-courses.js';
import { peopleOpenApi, peopleRoutes } from './api-people.js';
import { problemResponse, type PathItems } from './openapi.js';
import { UUID } from '../ids.js';
import { listAudit } from '../domain/audit.js';

export interface PrivilegesDeps {
  store: Store;
  cache: AuthorizationCache;
  outbox: Outbox;
  invite: InviteSettings;
}

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(`${name} is required (a string)`);
  return v.trim();
};

/** The privileges API under /api/v1: course grants, effective/why, authorize, memberships, groups, catalogue, invitations, merge, audit. */
export function privilegeRoutes(deps: PrivilegesDeps) {
  const { store, cache, outbox, invite } = deps;
  const app = new Hono();

  /* --- course privileges --- */
  app.get('/courses/:id/privileges', async (c) => {
    const limit = c.req.query('limit');
    const after = c.req.query('after');
    if (after && !UUID.test(after)) throw new ValidationError('after: a cursor from `next`');
    return c.json(
      await listCoursePrivileges(store, principalOf(c), c.req.param('id'), {
        limit: limit ? Number(limit) || 100 : undefined,
        after,
      }),
    );
  });
  app.put('/courses/:id/privileges/:personRef', async (c) => {
    const r = await setPersonPrivileges(
      store,
      principalOf(c),
      actorOf(c),
      { courseRef: c.req.param('id'), personRef: c.req.param('personRef'), body: await jsonBody(c) },
      invite,
    );
    if (r.created) outbox.kick();
    return c.json(r, r.created ? 201 : 200);
  });
  app.delete('/courses/:id/privileges/:personRef', async (c) => {
    return c.json(
      await clearPersonPrivileges(store, principalOf(c), actorOf(c), c.req.param('id'), c.req.param('personRef')),
    );
  });
  app.get('/courses/:id/privileges/:personRef', async (c) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, c.req.param('id'));
    if (p.kind === 'session' && p.personId !== c.req.param('personRef')) {
      const held = (await effectiveOne(store, p.tenantId, course.id, p.personId)).effective;
      if (!held.includes(MANAGE) && !held.includes('members.view'))
        throw new ForbiddenError(`You need ${MANAGE} or members.view in this course`);
    }
    const ref = parsePersonRef(c.req.param('personRef'));
    const personId =
      ref.kind === 'id'
        ? (await getPersonById(store, p.tenantId, ref.id)).id
        : await cache.personId(p.tenantId, c.req.param('personRef'));
    const person = await getPersonById(store, p.tenantId, personId);
    const e = await effectiveOne(store, p.tenantId, course.id, personId);
    return c.json({
      courseId: course.id,
      person,
      allow: e.allow,
      deny: e.deny,
      effective: e.effective,
      decisions: e.decisions,
    });
  });

  /* --- authorize: the LMS asks; cached --- */
  app.post('/authorize', async (c) => {
    const p = principalOf(c);
    const body = (await fastJsonBody(c)) as Record<string, unknown> | null;
    if (!body || typeof body !== 'object') throw new ValidationError('Expected {course, person, privilege}');
    const r = await authorize(store, cache, p.tenantId, {
      course: str(body.course, 'course'),
      person: str(body.person, 'person'),
      privilege: str(body.privilege, 'privilege'),
    });
    if (p.kind === 'session' && r.person !== p.personId) {
      const held = (await cache.effective(p.tenantId, r.course, p.personId)).effective;
      if (!held.includes(MANAGE) && !held.includes('members.view'))
        throw new ForbiddenError('A session may only ask about itself without members.view');
    }
    return c.json(r);
  });

  /* --- memberships --- */
  app.get('/courses/:id/memberships', async (c) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, c.req.param('id'));
    if (p.kind === 'session') {
      const held = (await effectiveOne(store, p.tenantId, course.id, p.personId)).effective;
      if (!held.includes('members.view')) throw new ForbiddenError('You need members.view in this course');
    }
    return c.json({ courseId: course.id, items: await listMemberships(store, p.tenantId, course.id) });
  });
  app.put('/courses/:id/memberships/:personRef', async (c) => {
    const r = await setMembership(
      store,
      principalOf(c),
      actorOf(c),
      { courseRef: c.req.param('id'), personRef: c.req.param('personRef'), body: await jsonBody(c) },
      invite,
    );
    if (r.personCreated) outbox.kick();
    return c.json(r.membership, r.personCreated ? 201 : 200);
  });
  app.delete('/courses/:id/memberships/:personRef', async (c) => {
    await removeMembership(store, principalOf(c), actorOf(c), c.req.param('id'), c.req.param('personRef'));
    return c.body(null, 204);
  });

  /* --- bulk pre-enrolment --- */
  app.post('/courses/:id/enrolments', async (c) => {
    const r = await bulkEnrol(store, principalOf(c), actorOf(c), c.req.param('id'), await jsonBody(c), { invite });
    if (r.summary.pending) outbox.kick();
    return c.json(
      { courseId: r.courseId, summary: r.summary, results: r.results },
      r.outcome === 'all' ? 200 : r.outcome === 'none' ? 422 : 207,
    );
  });

  /* --- group grants --- */
  app.get('/courses/:id/group-privileges', async (c) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, c.req.param('id'));
    if (p.kind === 'session') {
      const held = (await effectiveOne(store, p.tenantId, course.id, p.personId)).effective;
      if (!held.includes(MANAGE) && !held.includes('members.view'))
        throw new ForbiddenError(`You need ${MANAGE} or members.view in this course`);
    }
    return c.json({ courseId: course.id, items: await groupGrants(store, p.tenantId, course.id) });
  });
  app.put('/courses/:id/group-privileges/:groupId', async (c) => {
    return c.json(
      await setGroupPrivileges(store, principalOf(c), actorOf(c), {
        courseRef: c.req.param('id'),
        groupId: c.req.param('groupId'),
        body: await jsonBody(c),
      }),
    );
  });

  /* --- catalogue and role defaults --- */
  app.get('/privileges', async (c) => c.json({ items: await catalogue(store, principalOf(c).tenantId) }));
  app.post('/privileges', requireAdmin, async (c) =>
    c.json(await addCatalogueEntry(store, actorOf(c), principalOf(c).tenantId, await jsonBody(c)), 201),
  );
  app.get('/role-defaults', requireAdmin, async (c) => c.json(await roleDefaults(store, principalOf(c).tenantId)));
  app.put('/role-defaults/:role', requireAdmin, async (c) =>
    c.json(await setRoleDefaults(store, actorOf(c), principalOf(c).tenantId, c.req.param('role'), await jsonBody(c))),
  );

  /* --- invitations --- */
  app.get('/invitations', requireAdmin, async (c) => {
    const person = c.req.query('person');
    if (person && !UUID.test(person)) throw new ValidationError('person: a person id');
    return c.json({
      items: await listInvitations(store, principalOf(c).tenantId, {
        personId: person,
        status: c.req.query('status') || undefined,
      }),
    });
  });
  app.post('/people/:id/invitation', requireAdmin, async (c) => {
    if (!UUID.test(c.req.param('id'))) throw new ValidationError('id: a person id');
    const r = await resendInvitation(store, actorOf(c), principalOf(c).tenantId, c.req.param('id'), invite);
    outbox.kick();
    return c.json(r, 202);
  });
  app.post('/invitations/accept', async (c) => {
    const p = principalOf(c);
    const body = (await jsonBody(c)) as Record<string, unknown> | null;
    const token = str(body?.token, 'token');
    const caller = { tenantId: p.tenantId, personId: p.kind === 'session' ? p.personId : null };
    const r = await acceptInvitation(store, actorOf(c), token, caller, (t, tenantId, from, into) =>
      mergeInTransaction(store, t, actorOf(c), tenantId, from, into).then(() => undefined),
    );
    return c.json(r);
  });

  /* --- merge --- */
  app.post('/people/:id/merge', requireAdmin, async (c) => {
    const body = (await jsonBody(c)) as Record<string, unknown> | null;
    return c.json(
      await mergePeople(store, actorOf(c), principalOf(c).tenantId, c.req.param('id'), str(body?.into, 'into')),
    );
  });

  /* --- audit --- */
  app.get('/audit', requireAdmin, async (c) => {
    const q = c.req.query();
    const date = (v: string | undefined, name: string) => {
      if (!v) return undefined;
      const d = new Date(v);
      if (Number.isNaN(d.getTime())) throw new ValidationError(`${name}: an ISO 8601 time`);
      return d;
    };
    return c.json(
      await listAudit(store, {
        tenantId: principalOf(c).tenantId,
        course: q.course || undefined,
        person: q.person || undefined,
        actor: q.actor || undefined,
        action: q.action || undefined,
        since: date(q.since, 'since'),
        until: date(q.until, 'until'),
        before: q.before ? Number(q.before) : undefined,
        limit: q.limit ? Number(q.limit) : undefined,
      }),
    );
  });

  /* --- who am I (the web page) --- */
  app.get('/me', async (c) => {
    const p = principalOf(c);
    if (p.kind !== 'session') return c.json({ kind: 'admin', tenantId: p.tenantId });
    const person = await getPersonById(store, p.tenantId, p.personId);
    const eff = p.courseId ? await effectiveOne(store, p.tenantId, p.courseId, p.personId) : null;
    return c.json({
      kind: 'session',
      tenantId: p.tenantId,
      courseId: p.courseId,
      roles: p.roles,
      person,
      effective: eff?.effective ?? [],
    });
  });

  return app;
}

/* ------------------------------------------------------------------ OpenAPI */

const json = (schema: unknown) => ({ 'application/json': { schema } });
const lists = {
  type: 'object',
  properties: {
    allow: { type: 'array', items: { type: 'string' } },
    deny: { type: 'array', items: { type: 'string' } },
  },
};
const why = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      source: { type: 'string', enum: ['role', 'group', 'grant', 'status'] },
      effect: { type: 'string', enum: ['allow', 'deny'] },
      role: { type: 'string' },
      groupId: { type: 'string' },
      groupName: { type: 'string' },
      grantId: { type: 'string' },
      status: { type: 'string' },
      detail: { type: 'string' },
    },
  },
};
const courseId = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'course id or key:<SIS key>',
  schema: { type: 'string' },
};
const personRef = {
  name: 'personRef',
  in: 'path',
  required: true,
  description: 'person id, email:<address> or key:<externalId or userName>',
  schema: { type: 'string' },
};
const common = {
  401: problemResponse('No valid admin token or session'),
  403: problemResponse('Not allowed (session without the privilege)'),
  404: problemResponse('No such course/person in this tenant'),
};

export const privilegesOpenApi: PathItems = {
  '/api/v1/courses/{id}/privileges': {
    get: {
      summary: "The course's people with allow, deny and effective privileges",
      parameters: [
        courseId,
        { name: 'after', in: 'query', schema: { type: 'string' } },
        { name: 'limit', in: 'query', schema: { type: 'integer' } },
      ],
      responses: { 200: { description: '{course, items, next, groups}' }, ...common },
    },
  },
  '/api/v1/courses/{id}/privileges/{personRef}': {
    put: {
      summary: "Set a person's allow/deny lists in the course",
      description:
        'An unknown email or key creates an invited placeholder person (201) and queues an invitation mail. Several matching people: 409 with candidates.',
      parameters: [courseId, personRef],
      requestBody: { required: true, content: json(lists) },
      responses: {
        200: { description: 'Set' },
        201: { description: 'Set; a placeholder person was created' },
        400: problemResponse('Unknown privilege (valid ones listed), malformed email'),
        409: problemResponse('Several people match, or the last holder of privileges.manage would go'),
        ...common,
      },
    },
    delete: {
      summary: "Remove a person's grants in the course",
      parameters: [courseId, personRef],
      responses: { 200: { description: '{removed}' }, ...common },
    },
    get: {
      summary: 'Effective privileges of a person with why',
      parameters: [courseId, personRef],
      responses: {
        200: { description: '{person, allow, deny, effective, decisions[{privilege, allowed, why}]}' },
        ...common,
      },
    },
  },
  '/api/v1/authorize': {
    post: {
      summary: 'May this person use this privilege in this course?',
      description:
        'Cached per tenant; writes invalidate (triggers + LISTEN/NOTIFY on PostgreSQL, in-process signals otherwise).',
      requestBody: {
        required: true,
        content: json({
          type: 'object',
          required: ['course', 'person', 'privilege'],
          properties: { course: { type: 'string' }, person: { type: 'string' }, privilege: { type: 'string' } },
        }),
      },
      responses: {
        200: {
          description: '{allowed, why}',
          content: json({
            type: 'object',
            properties: {
              allowed: { type: 'boolean' },
              why,
              privilege: { type: 'string' },
              course: { type: 'string' },
              person: { type: 'string' },
            },
          }),
        },
        400: problemResponse('Unknown privilege'),
        ...common,
      },
    },
  },
  '/api/v1/courses/{id}/memberships': {
    get: {
      summary: 'Memberships (roles per person)',
      parameters: [courseId],
      responses: { 200: { description: '{items}' }, ...common },
    },
  },
  '/api/v1/courses/{id}/memberships/{personRef}': {
    put: {
      summary: 'Set roles of a person in the course',
      parameters: [courseId, personRef],
      requestBody: {
        required: true,
        content: json({
          type: 'object',
          required: ['roles'],
          properties: {
            roles: { type: 'array', items: { type: 'string' } },
            status: { type: 'string', enum: ['active', 'inactive'] },
          },
        }),
      },
      responses: { 200: { description: 'Set' }, 201: { description: 'Set; placeholder created' }, ...common },
    },
    delete: {
      summary: 'Remove the membership',
      parameters: [courseId, personRef],
      responses: { 204: { description: 'Removed' }, ...common },
    },
  },
  '/api/v1/courses/{id}/enrolments': {
    post: {
      summary: 'Bulk pre-enrolment (≤ 10,000 rows)',
      description:
        'Rows {email|key, roles, allow, deny}; per-row status created|updated|pending|duplicate|conflict|invalid. 200 all succeeded, 207 some, 422 none, 413 too many rows. Atomic per row, idempotent on retry.',
      parameters: [courseId],
      requestBody: {
        required: true,
        content: json({
          type: 'object',
          properties: {
            rows: {
              type: 'array',
              maxItems: 10000,
              items: {
                type: 'object',
                properties: {
                  email: { type: 'string' },
                  key: { type: 'string' },
                  roles: { type: 'array', items: { type: 'string' } },
                  ...lists.properties,
                },
              },
            },
          },
        }),
      },
      responses: {
        200: { description: 'All rows succeeded' },
        207: { description: 'Some rows succeeded' },
        422: { description: 'No row succeeded' },
        413: problemResponse('Too many rows'),
        ...common,
      },
    },
  },
  '/api/v1/courses/{id}/group-privileges': {
    get: {
      summary: 'Group grants in the course',
      parameters: [courseId],
      responses: { 200: { description: '{items}' }, ...common },
    },
  },
  '/api/v1/courses/{id}/group-privileges/{groupId}': {
    put: {
      summary: "Set a SCIM group's allow/deny lists in the course (applies to members, nested groups included)",
      parameters: [
        courseId,
        { name: 'groupId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
      ],
      requestBody: { required: true, content: json(lists) },
      responses: { 200: { description: 'Set' }, ...common },
    },
  },
  '/api/v1/privileges': {
    get: { summary: "The tenant's privilege catalogue", responses: { 200: { description: '{items}' } } },
    post: {
      summary: 'Add a privilege to the catalogue (tenant admin)',
      requestBody: {
        required: true,
        content: json({
          type: 'object',
          required: ['key'],
          properties: { key: { type: 'string' }, description: { type: 'string' } },
        }),
      },
      responses: { 201: { description: 'Added' }, 409: problemResponse('Exists') },
    },
  },
  '/api/v1/role-defaults': {
    get: {
      summary: 'LTI role → default privileges (tenant admin)',
      responses: { 200: { description: '{role: [privileges]}' } },
    },
  },
  '/api/v1/role-defaults/{role}': {
    put: {
      summary: "Replace a role's default privileges",
      parameters: [{ name: 'role', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: {
        required: true,
        content: json({ type: 'object', properties: { privileges: { type: 'array', items: { type: 'string' } } } }),
      },
      responses: { 200: { description: 'Set' }, 400: problemResponse('Unknown privilege') },
    },
  },
  '/api/v1/invitations': {
    get: {
      summary: 'Invitations (tenant admin)',
      parameters: [
        { name: 'person', in: 'query', schema: { type: 'string' } },
        { name: 'status', in: 'query', schema: { type: 'string' } },
      ],
      responses: { 200: { description: '{items}' } },
    },
  },
  '/api/v1/people/{id}/invitation': {
    post: {
      summary: 'Resend the invitation (new single-use link, expiry restarts)',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 202: { description: 'Queued' }, 409: problemResponse('Not an invited placeholder') },
    },
  },
  '/api/v1/invitations/accept': {
    post: {
      summary: 'Redeem an invitation (signed-in session: the placeholder is merged into you)',
      requestBody: { required: true, content: json({ type: 'object', properties: { token: { type: 'string' } } }) },
      responses: {
        200: { description: 'Accepted' },
        404: problemResponse('Unknown'),
        409: problemResponse('Used or expired'),
      },
    },
  },
  '/api/v1/people/{id}/merge': {
    post: {
      summary: 'Merge a placeholder into the real person (tenant admin)',
      description:
        'Grants move (deny wins on conflict), memberships move; the placeholder becomes merged with merged_into. Audited.',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: {
        required: true,
        content: json({ type: 'object', required: ['into'], properties: { into: { type: 'string', format: 'uuid' } } }),
      },
      responses: { 200: { description: 'Merged' }, 409: problemResponse('Not a placeholder') },
    },
  },
  '/api/v1/audit': {
    get: {
      summary: 'Audit trail (tenant admin)',
      parameters: ['course', 'person', 'actor', 'action', 'since', 'until', 'before', 'limit'].map((name) => ({
        name,
        in: 'query',
        schema: { type: 'string' },
      })),
      responses: { 200: { description: '{items, next}' } },
    },
  },
  '/api/v1/me': {
    get: {
      summary: 'The caller (session: person and effective privileges in the launch course)',
      responses: { 200: { description: 'Caller' } },
    },
  },
};

/**
 * Builds the privileges surface for createApp: the authorization cache (LISTEN on PostgreSQL), the
 * mail outbox, and the routers. The cache's LISTEN connection is closed with the database.
 */
export function privilegesApi(deps: { config: Config; store: Store; logger?: Logger }) {
  const { config, store, logger } = deps;
  const cache = new AuthorizationCache(store, {
    ttlMs: config.privileges.authzCacheTtlMs,
    databaseUrl: config.databaseUrl,
    logger,
  });
  void cache
    .start()
    .catch((err) => logger?.warn({ err }, 'authorization cache did not start; decisions are computed uncached'));
  const outbox = new Outbox(store, { smtpUrl: config.smtpUrl, from: config.privileges.mailFrom, logger });
  // Requests kick the outbox after they queue mail; this sweep also sends what the CLI queued and retries failures.
  const sweep = setInterval(() => outbox.kick(), 30_000);
  sweep.unref();
  // The LISTEN connection and the sweep end with the database (apps built on a stub store have neither).
  if (typeof store.sequelize?.close === 'function') {
    const close = store.sequelize.close.bind(store.sequelize);
    store.sequelize.close = async () => {
      clearInterval(sweep);
      await cache.stop();
      return close();
    };
  }
  const invite: InviteSettings = { publicUrl: config.publicUrl, ttlMs: config.privileges.invitationTtlMs };
  const app = new Hono();
  app.route('/', courseRoutes(store));
  app.route('/', peopleRoutes(store));
  app.route('/', privilegeRoutes({ store, cache, outbox, invite }));
  return { routes: app, cache, outbox, invite, openapi: [coursesOpenApi, peopleOpenApi, privilegesOpenApi] };
}
