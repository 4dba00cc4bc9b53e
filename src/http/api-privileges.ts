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
import { ForbiddenError } from '../errors.js';
import { contractRouter, parseContract } from '../contract/common.js';
import * as contract from '../contract/privileges.js';
import { actorOf, fastJsonBody, jsonBody, principalOf, requireAdmin } from './api-auth.js';
import { courseRoutes } from './api-courses.js';
import { peopleRoutes } from './api-people.js';
import { listAudit } from '../domain/audit.js';
import { coursePageRoutes } from './api-course-page.js';

export interface PrivilegesDeps {
  store: Store;
  cache: AuthorizationCache;
  outbox: Outbox;
  invite: InviteSettings;
}

/** The privileges API under /api/v1: course grants, effective/why, authorize, memberships, groups, catalogue, invitations, merge, audit. */
export function privilegeRoutes(deps: PrivilegesDeps) {
  const { store, cache, outbox, invite } = deps;
  const app = contractRouter();

  /* --- course privileges --- */
  app.openapi(contract.listCoursePrivileges, async (c) => {
    const { limit, after } = c.req.valid('query');
    return c.json(
      await listCoursePrivileges(store, principalOf(c), c.req.valid('param').id, {
        limit: limit ? Number(limit) || 100 : undefined,
        after: after || undefined,
      }),
    );
  });
  app.openapi(contract.setPersonPrivileges, async (c) => {
    const { id, personRef } = c.req.valid('param');
    const r = await setPersonPrivileges(
      store,
      principalOf(c),
      actorOf(c),
      { courseRef: id, personRef, body: c.req.valid('json') },
      invite,
    );
    if (r.created) outbox.kick();
    return c.json(r, r.created ? 201 : 200);
  });
  app.openapi(contract.clearPersonPrivileges, async (c) => {
    const { id, personRef } = c.req.valid('param');
    return c.json(await clearPersonPrivileges(store, principalOf(c), actorOf(c), id, personRef));
  });
  app.openapi(contract.effectivePrivileges, async (c) => {
    const p = principalOf(c);
    const { id, personRef } = c.req.valid('param');
    const course = await getCourse(store, p.tenantId, id);
    if (p.kind === 'session' && p.personId !== personRef) {
      const held = (await effectiveOne(store, p.tenantId, course.id, p.personId)).effective;
      if (!held.includes(MANAGE) && !held.includes('members.view'))
        throw new ForbiddenError(`You need ${MANAGE} or members.view in this course`);
    }
    const ref = parsePersonRef(personRef);
    const personId =
      ref.kind === 'id'
        ? (await getPersonById(store, p.tenantId, ref.id)).id
        : await cache.personId(p.tenantId, personRef);
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

  /* --- authorize: the LMS asks; cached. Documented by contract.authorize, mounted without validators (hot path). --- */
  app.openAPIRegistry.registerPath(contract.authorize);
  app.post('/authorize', async (c) => {
    const p = principalOf(c);
    const body = parseContract(contract.AuthorizeBody, await fastJsonBody(c));
    const r = await authorize(store, cache, p.tenantId, body);
    if (p.kind === 'session' && r.person !== p.personId) {
      const held = (await cache.effective(p.tenantId, r.course, p.personId)).effective;
      if (!held.includes(MANAGE) && !held.includes('members.view'))
        throw new ForbiddenError('A session may only ask about itself without members.view');
    }
    return c.json(r);
  });

  /* --- memberships --- */
  app.openapi(contract.listMemberships, async (c) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, c.req.valid('param').id);
    if (p.kind === 'session') {
      const held = (await effectiveOne(store, p.tenantId, course.id, p.personId)).effective;
      if (!held.includes('members.view')) throw new ForbiddenError('You need members.view in this course');
    }
    return c.json({ courseId: course.id, items: await listMemberships(store, p.tenantId, course.id) });
  });
  app.openapi(contract.setMembership, async (c) => {
    const { id, personRef } = c.req.valid('param');
    const r = await setMembership(
      store,
      principalOf(c),
      actorOf(c),
      { courseRef: id, personRef, body: c.req.valid('json') },
      invite,
    );
    if (r.personCreated) outbox.kick();
    return c.json(r.membership, r.personCreated ? 201 : 200);
  });
  app.openapi(contract.removeMembership, async (c) => {
    const { id, personRef } = c.req.valid('param');
    await removeMembership(store, principalOf(c), actorOf(c), id, personRef);
    return c.body(null, 204);
  });

  /* --- bulk pre-enrolment: rows are judged one by one in the domain, so no validators here --- */
  app.openAPIRegistry.registerPath(contract.bulkEnrol);
  app.post('/courses/:id/enrolments', async (c) => {
    const r = await bulkEnrol(store, principalOf(c), actorOf(c), c.req.param('id'), await jsonBody(c), { invite });
    if (r.summary.pending) outbox.kick();
    return c.json(
      { courseId: r.courseId, summary: r.summary, results: r.results },
      r.outcome === 'all' ? 200 : r.outcome === 'none' ? 422 : 207,
    );
  });

  /* --- group grants --- */
  app.openapi(contract.listGroupPrivileges, async (c) => {
    const p = principalOf(c);
    const course = await getCourse(store, p.tenantId, c.req.valid('param').id);
    if (p.kind === 'session') {
      const held = (await effectiveOne(store, p.tenantId, course.id, p.personId)).effective;
      if (!held.includes(MANAGE) && !held.includes('members.view'))
        throw new ForbiddenError(`You need ${MANAGE} or members.view in this course`);
    }
    return c.json({ courseId: course.id, items: await groupGrants(store, p.tenantId, course.id) });
  });
  app.openapi(contract.setGroupPrivileges, async (c) => {
    const { id, groupId } = c.req.valid('param');
    return c.json(
      await setGroupPrivileges(store, principalOf(c), actorOf(c), {
        courseRef: id,
        groupId,
        body: c.req.valid('json'),
      }),
    );
  });

  /* --- catalogue and role defaults --- */
  app.openapi(contract.listCatalogue, async (c) => c.json({ items: await catalogue(store, principalOf(c).tenantId) }));
  app.openapi({ ...contract.addCatalogueEntry, middleware: [requireAdmin] }, async (c) =>
    c.json(await addCatalogueEntry(store, actorOf(c), principalOf(c).tenantId, c.req.valid('json')), 201),
  );
  app.openapi({ ...contract.listRoleDefaults, middleware: [requireAdmin] }, async (c) =>
    c.json(await roleDefaults(store, principalOf(c).tenantId), 200),
  );
  app.openapi({ ...contract.setRoleDefaults, middleware: [requireAdmin] }, async (c) =>
    c.json(
      await setRoleDefaults(store, actorOf(c), principalOf(c).tenantId, c.req.valid('param').role, c.req.valid('json')),
    ),
  );

  /* --- invitations --- */
  app.openapi({ ...contract.listInvitations, middleware: [requireAdmin] }, async (c) => {
    const { person, status } = c.req.valid('query');
    return c.json({
      items: await listInvitations(store, principalOf(c).tenantId, {
        personId: person || undefined,
        status: status || undefined,
      }),
    });
  });
  app.openapi({ ...contract.resendInvitation, middleware: [requireAdmin] }, async (c) => {
    const r = await resendInvitation(store, actorOf(c), principalOf(c).tenantId, c.req.valid('param').id, invite);
    outbox.kick();
    return c.json(r, 202);
  });
  app.openapi(contract.acceptInvitation, async (c) => {
    const p = principalOf(c);
    const { token } = c.req.valid('json');
    const caller = { tenantId: p.tenantId, personId: p.kind === 'session' ? p.personId : null };
    const r = await acceptInvitation(store, actorOf(c), token, caller, (t, tenantId, from, into) =>
      mergeInTransaction(store, t, actorOf(c), tenantId, from, into).then(() => undefined),
    );
    return c.json(r);
  });

  /* --- merge --- */
  app.openapi({ ...contract.mergePeople, middleware: [requireAdmin] }, async (c) =>
    c.json(
      await mergePeople(store, actorOf(c), principalOf(c).tenantId, c.req.valid('param').id, c.req.valid('json').into),
    ),
  );

  /* --- audit --- */
  app.openapi({ ...contract.listAudit, middleware: [requireAdmin] }, async (c) => {
    const q = c.req.valid('query');
    const date = (v: string | undefined) => (v ? new Date(v) : undefined);
    return c.json(
      await listAudit(store, {
        tenantId: principalOf(c).tenantId,
        course: q.course || undefined,
        person: q.person || undefined,
        actor: q.actor || undefined,
        action: q.action || undefined,
        since: date(q.since),
        until: date(q.until),
        before: q.before ? Number(q.before) : undefined,
        limit: q.limit ? Number(q.limit) : undefined,
      }),
    );
  });

  /* --- who am I (the web page) --- */
  app.openapi(contract.me, async (c) => {
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

/**
 * Builds the privileges surface for createApp: the authorization cache (LISTEN on PostgreSQL), the
 * mail outbox, and the routers. The cache's LISTEN connection is closed with the database.
 */
export function privilegesApi(deps: { config: Config; store: Store; logger?: Logger }) {
  const { config, store, logger } = deps;
  const cache = new AuthorizationCache(store, {
    ttlMs: config.privileges.authzCacheTtlMs,
    databaseUrl: config.databaseListenUrl,
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
  const app = contractRouter();
  app.route('/', courseRoutes(store));
  app.route('/', peopleRoutes(store));
  app.route('/', privilegeRoutes({ store, cache, outbox, invite }));
  app.route('/', coursePageRoutes({ store, outbox, invite }));
  return { routes: app, cache, outbox, invite };
}
