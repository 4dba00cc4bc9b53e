import { OpenAPIHono } from '@hono/zod-openapi';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import { startTokenResolver } from '../domain/tokens.js';
import { MethodNotAllowedError, NotFoundError } from '../errors.js';
import { tenantRoutes } from './api-tenant.js';
import { scimRequestLog } from './api-admin-hooks.js';
import { adminRoutes } from './api-admin.js';
import { adminOrSession } from './api-auth.js';
import { privilegesApi } from './api-privileges.js';
import { webRoutes } from '../web/routes.js';
import { verifySession } from '../../lti/session.js';
import './context.js';
import { createOnError } from './errors.js';
import type { Readiness } from './health.js';
import { createMetrics, type Metrics } from './metrics.js';
import { accessLog, bodyLimit, requestContext, requireToken } from './middleware.js';
import { buildOpenApi, renderDocsPage } from './openapi.js';
import { ltiRoutes, renderLtiError } from '../../lti/routes.js';
import { platformRoutes } from './api-platforms.js';
import { webhookRoutes } from './api-webhooks.js';
import { ONEROSTER_UPLOAD_MAX_BYTES, ONEROSTER_UPLOAD_PATH, oneRosterRoutes } from './api-oneroster.js';
import { renderScimError, scimApp } from '../../scim/routes.js';
import { contractRouter } from '../contract/common.js';
import { describeLti } from '../contract/lti.js';
import { describeScim } from '../contract/scim.js';
import { landingPage } from '../web/landing.js';
import { demoLmsRoutes } from '../dev/demo-lms.js';
import { operatorRoutes } from './api-operator.js';
import { DEMO_LMS_PATH } from '../domain/dev-seed.js';
import type { RosterSyncRunner } from '../domain/roster-sync-runner.js';
import { createNrpsRunner } from '../../lti/nrps-runner.js';
import { rosterRoutes } from './api-roster.js';

const ENROLMENT_PATH = /^\/api\/v1\/courses\/[^/]+\/enrolments$/;

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  readiness: () => Promise<Readiness>;
  /** True once shutdown has begun: readiness turns 503 so load balancers stop sending traffic. */
  draining?: () => boolean;
  metrics?: Metrics;
  /** LMS roster syncs (NRPS); default: run in this process, with the tenant schedules checked every minute. */
  rosterSync?: RosterSyncRunner;
}

export function createApp(deps: AppDeps) {
  const metrics = deps.metrics ?? createMetrics();
  const tokens = startTokenResolver(deps.store, { listenUrl: deps.config.databaseListenUrl, logger: deps.logger });
  const app = new OpenAPIHono();
  const privileges = privilegesApi({ config: deps.config, store: deps.store, logger: deps.logger });
  const { nrps, ...runnerSettings } = deps.config.rosterSync;
  const rosterSync =
    deps.rosterSync ?? createNrpsRunner(deps.store, { logger: deps.logger, ...runnerSettings, client: nrps });
  rosterSync.startSchedule();

  app.use('*', requestContext(deps.logger));
  app.use('*', accessLog(metrics));
  // Body limits by path: SCIM Bulk enforces its own advertised maxPayloadSize (scim/routes.ts),
  // bulk pre-enrolment (10,000 rows) needs more, authorization checks are tiny.
  const limits = {
    standard: bodyLimit(deps.config.bodyLimitBytes),
    enrolment: bodyLimit(deps.config.privileges.bulkMaxBytes),
    authorize: bodyLimit(16 * 1024),
    oneroster: bodyLimit(ONEROSTER_UPLOAD_MAX_BYTES),
  };
  app.use('*', function limitBody(c, next) {
    const path = c.req.path;
    if (path === '/scim/v2/Bulk') return next();
    if (path === '/api/v1/authorize') return limits.authorize(c, next);
    if (ENROLMENT_PATH.test(path)) return limits.enrolment(c, next);
    if (path === ONEROSTER_UPLOAD_PATH) return limits.oneroster(c, next);
    return limits.standard(c, next);
  });
  app.use(
    '*',
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, allowed) => {
        throw new MethodNotAllowedError(c.req.method, allowed);
      },
    }),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    if (deps.draining?.()) return c.json({ ready: false, detail: 'shutting down' }, 503);
    const r = await deps.readiness();
    return c.json(r, r.ready ? 200 : 503);
  });
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );

  app.get('/', landingPage);

  const api = contractRouter();
  api.use(
    '*',
    adminOrSession({
      tokens,
      verifySession: (bearer) => verifySession(deps.store, deps.config.publicUrl, bearer),
    }),
  );
  api.route('/', tenantRoutes(deps.store));
  api.route('/', adminRoutes(deps.store, deps.config));
  api.route('/', privileges.routes);
  api.route('/', platformRoutes(deps.store, deps.config));
  api.route('/', webhookRoutes(deps.store, deps.config));
  api.route('/', rosterRoutes(deps.store, rosterSync));
  api.route('/', oneRosterRoutes(deps.store, deps.config));
  app.route('/api/v1', api);
  app.route('/operator/v1', operatorRoutes(deps.store, deps.config));
  app.route('/app', webRoutes({ store: deps.store, config: deps.config }));
  app.route('/lti', ltiRoutes({ config: deps.config, store: deps.store, roster: rosterSync }));
  if (deps.config.demoLms)
    app.route(DEMO_LMS_PATH, demoLmsRoutes({ store: deps.store, publicUrl: deps.config.publicUrl }));
  app.use('/scim/v2/*', scimRequestLog(deps.store));
  app.route(
    '/scim/v2',
    scimApp({ config: deps.config, store: deps.store, authenticate: requireToken(tokens, 'scim') }),
  );

  // The document is generated once every router is mounted: /api/v1 from its contracts, SCIM and LTI described.
  describeScim(app);
  describeLti(app);
  const openapi = buildOpenApi(app, deps.config.publicUrl);
  const docsHtml = renderDocsPage(openapi);
  app.get('/openapi.json', (c) => c.json(openapi));
  app.get('/docs', (c) => c.html(docsHtml));

  const onError = createOnError([
    ['/lti', renderLtiError],
    ['/scim', renderScimError],
  ]);
  // Answered, not thrown: the method-not-allowed middleware only looks at plain 404 responses.
  app.notFound((c) => onError(new NotFoundError(`No route for ${c.req.method} ${c.req.path}`), c));
  app.onError(onError);
  return app;
}
