import { Hono } from 'hono';
import { NotFoundError } from '../errors.js';
import { UUID } from '../ids.js';
import { CLIENT_ENTRIES, clientAssets } from './assets.js';
import { htmlResponse, newNonce } from './html.js';
import { CourseAdminPage, WelcomePage } from './pages.js';

/**
 * /app: the course admin page (GET /app/courses/:id) and the learner landing page
 * (GET /app/welcome[?invitation=…]), where LTI launches land (lti/routes.ts redirects here with
 * #lti_ticket=…), and the pages' bundled browser code (GET /app/assets/<name>.js).
 */
export function webRoutes() {
  const app = new Hono();
  app.get('/assets/:file', async (c) => {
    const name = c.req.param('file').replace(/\.js$/, '');
    if (!(CLIENT_ENTRIES as readonly string[]).includes(name) || !c.req.param('file').endsWith('.js'))
      throw new NotFoundError(`No asset ${c.req.param('file')}`);
    const asset = (await clientAssets()).get(name)!;
    const headers = {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'no-cache',
      ETag: asset.etag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers);
    return c.body(asset.code, 200, headers);
  });
  app.get('/courses/:id', (c) => {
    const id = c.req.param('id');
    if (!UUID.test(id)) throw new NotFoundError(`No course ${id}`);
    const nonce = newNonce();
    return htmlResponse(c, CourseAdminPage({ nonce, courseId: id }), { nonce, frameAncestors: '*' });
  });
  app.get('/welcome', (c) => {
    const invitation = c.req.query('invitation');
    const nonce = newNonce();
    return htmlResponse(
      c,
      WelcomePage({ nonce, invitation: invitation && /^rbi_[\w-]{10,100}$/.test(invitation) ? invitation : null }),
      { nonce, frameAncestors: '*' },
    );
  });
  return app;
}
