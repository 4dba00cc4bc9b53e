import type { Context } from 'hono';
import type { Config } from '../config.js';
import type { Store } from '../db/store.js';
import {
  deleteOneRosterConnection,
  getOneRosterConnection,
  setOneRosterConnection,
  syncOneRosterApi,
} from '../domain/oneroster/connections.js';
import { importOneRosterBundle, listImports } from '../domain/oneroster/import.js';
import { AppError, ValidationError } from '../errors.js';
import { contractRouter } from '../contract/common.js';
import * as contract from '../contract/oneroster.js';
import { actorOf, requireAdmin } from './api-auth.js';

/** Upper bound of an uploaded bundle (app.ts applies it as this path's body limit). */
export const ONEROSTER_UPLOAD_MAX_BYTES = 200 * 1024 * 1024;
export const ONEROSTER_UPLOAD_PATH = '/api/v1/oneroster/imports';

/** The zip from an `application/zip` body or the `bundle` field of a multipart form. */
async function bundleOf(c: Context): Promise<Buffer> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) {
    const form = await c.req.parseBody();
    const file = form.bundle;
    if (!(file instanceof File)) throw new ValidationError('bundle: the form needs the zip in the field "bundle"');
    return Buffer.from(await file.arrayBuffer());
  }
  if (
    type.startsWith('application/zip') ||
    type.startsWith('application/octet-stream') ||
    type.startsWith('application/x-zip')
  )
    return Buffer.from(await c.req.arrayBuffer());
  throw new AppError(
    'bad_request',
    'Send the bundle as application/zip or as multipart/form-data with a "bundle" field',
    {
      details: { contentType: type || null },
    },
  );
}

/** OneRoster on the admin API (`/api/v1/oneroster/…`, tenant admin token): bundle uploads and the REST pull. */
export function oneRosterRoutes(store: Store, config: Config) {
  const app = contractRouter();
  app.use('/oneroster/*', requireAdmin);
  app.use('/oneroster', requireAdmin);
  // The body is read by bundleOf (a zip is not JSON or a form of strings): only the query is validated here.
  app.openapi({ ...contract.uploadBundle, request: { query: contract.uploadBundle.request.query } }, async (c) => {
    const report = await importOneRosterBundle(store, actorOf(c), c.get('auth').tenant.id, await bundleOf(c), {
      dryRun: c.req.valid('query').dryRun === 'true',
    });
    return c.json(report, 200);
  });
  app.openapi(contract.listImports, async (c) =>
    c.json({ imports: await listImports(store, c.get('auth').tenant.id) }, 200),
  );
  app.openapi(contract.putConnection, async (c) =>
    c.json(
      await setOneRosterConnection(store, actorOf(c), c.get('auth').tenant.id, c.req.valid('json'), config.oneroster),
      200,
    ),
  );
  app.openapi(contract.getConnection, async (c) =>
    c.json(await getOneRosterConnection(store, c.get('auth').tenant.id), 200),
  );
  app.openapi(contract.deleteConnection, async (c) => {
    await deleteOneRosterConnection(store, actorOf(c), c.get('auth').tenant.id);
    return c.body(null, 204);
  });
  app.openapi(contract.syncConnection, async (c) => {
    const report = await syncOneRosterApi(
      store,
      { ...config.oneroster, actor: actorOf(c), dryRun: c.req.valid('query').dryRun === 'true' },
      c.get('auth').tenant.id,
    );
    return c.json(report, 200);
  });
  return app;
}
