/** @jsxImportSource hono/jsx */
import type { Context } from 'hono';
import { raw } from 'hono/html';

/**
 * `GET /`: what this service is and where to go next, for a person who opens the bare URL. No
 * script and no external asset, so the strictest CSP applies.
 */
const STYLE = `body{font:16px/1.55 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.5rem 0 .4rem}ul{padding-left:1.2rem}li{margin:.25rem 0}
a{color:#0550ae}code{font:.9rem ui-monospace,monospace}.muted{color:#57606a}`;

export function LandingPage() {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <title>Rosterbridge</title>
        <style>{raw(STYLE)}</style>
      </head>
      <body>
        <main>
          <h1>Rosterbridge</h1>
          <p>
            Rosterbridge connects a school's identity provider (SCIM 2.0) and its learning platforms (LTI 1.3), and lets
            the school grant course privileges to people before they first sign in.
          </p>
          <h2>For developers</h2>
          <ul>
            <li>
              <a href="/docs">API reference</a> — the privileges API, SCIM and LTI endpoints
            </li>
            <li>
              <a href="/openapi.json">OpenAPI document</a> (machine-readable, OpenAPI 3.1)
            </li>
          </ul>
          <h2>For operators</h2>
          <ul>
            <li>
              <a href="/healthz">Health check</a> — answers while the process lives
            </li>
            <li>
              <a href="/readyz">Readiness check</a> — the database answers and is migrated
            </li>
          </ul>
          <h2>For course admins and learners</h2>
          <ul>
            <li>
              <a href="/app/welcome">Welcome page</a> — where a launch from your learning platform lands
            </li>
          </ul>
          <p class="muted">
            The course admin page (<code>/app/courses/&lt;course id&gt;</code>) opens from a launch in your learning
            platform; it needs the session that launch gives you.
          </p>
        </main>
      </body>
    </html>
  );
}

export function landingPage(c: Context) {
  return c.body(`<!doctype html>${String(LandingPage())}`, 200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    'X-Content-Type-Options': 'nosniff',
  });
}
