/** @jsxImportSource hono/jsx */
import type { Context } from 'hono';
import { htmlResponse, newNonce } from './html.js';
import { Layout } from './layout.js';

/**
 * `GET /`: what this service is and where to go next, for a person who opens the bare URL. No
 * script and no external asset, so the strictest CSP applies.
 */
export function LandingPage(props: { nonce: string }) {
  return (
    <Layout title="Rosterbridge" nonce={props.nonce}>
      <h1>Rosterbridge</h1>
      <p>
        Rosterbridge connects a school's identity provider (SCIM 2.0) and its learning platforms (LTI 1.3), and lets the
        school grant course privileges to people before they first sign in.
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
    </Layout>
  );
}

export function landingPage(c: Context) {
  const nonce = newNonce();
  return htmlResponse(c, LandingPage({ nonce }), { nonce, frameAncestors: [] });
}
