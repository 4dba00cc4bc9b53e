import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { NotFoundError } from '../errors.js';
import { CourseAdminPage, WelcomePage } from './pages.js';
import { UUID } from '../ids.js';

/**
 * /app: the course admin page (GET /app/courses/:id) and the learner landing page
 * (GET /app/welcome[?invitation=…]), where LTI launches land (lti/routes.ts redirects here with
 * #lti_ticket=…). The pages hold no data server-side; their script calls /api/v1 with the session.
 */
export function cspFor(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "form-action 'self'",
    // LMSs embed the tool in an iframe.
    'frame-ancestors *',
    "base-uri 'none'",
  ].join('; ');
}

function page(c: Context, node: unknown, nonce: string) {
  return c.body(`<!doctype html>${String(node)}`, 200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': cspFor(nonce),
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
  });
}

export function webRoutes() {
  const app = new Hono();
  app.get('/courses/:id', (c) => {
    const id = c.req.param('id');
    if (!UUID.test(id)) throw new NotFoundError(`No course ${id}`);
    const nonce = randomBytes(16).toString('base64');
    return page(c, CourseAdminPage({ nonce, courseId: id }), nonce);
  });
  app.get('/welcome', (c) => {
    const invitation = c.req.query('invitation');
    const nonce = randomBytes(16).toString('base64');
    return page(
      c,
      WelcomePage({ nonce, invitation: invitation && /^rbi_[\w-]{10,100}$/.test(invitation) ? invitation : null }),
      nonce,
    );
  });
  return app;
}
