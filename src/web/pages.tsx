/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import { COURSE_ADMIN_JS, SESSION_JS, WELCOME_JS } from './client.js';

/**
 * Server-rendered pages (hono/jsx): the course admin page and the learner landing page. No CDN,
 * no framework: a small inline script under a per-response CSP nonce redeems the launch ticket for
 * a bearer session and calls /api/v1 with it. Data for the script travels in a JSON element.
 */
const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:64rem;margin:1.5rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}.muted{color:#57606a;font-size:.9rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d8dee4;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{font-weight:600;background:#f6f8fa}code{font:.85rem ui-monospace,monospace}
.tag{display:inline-block;border-radius:.6rem;padding:0 .45rem;margin:0 .15rem .15rem 0;font-size:.8rem;background:#eef1f4}
.allow{background:#dafbe1}.deny{background:#ffebe9}.eff{background:#ddf4ff}.status-invited{background:#fff8c5}
fieldset{border:1px solid #d8dee4;border-radius:.4rem;margin:.5rem 0;padding:.5rem .75rem}legend{font-weight:600}
label{margin-right:.8rem;white-space:nowrap}input[type=text],input[type=search]{font:inherit;padding:.3rem .4rem;min-width:18rem}
button{font:inherit;padding:.3rem .9rem;cursor:pointer}#status{min-height:1.5rem;font-weight:600}.error{color:#cf222e}
.panel{border:1px solid #d8dee4;border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0;background:#fbfcfd}`;

function Layout(props: { title: string; nonce: string; data: unknown; script: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        <style>{raw(STYLE)}</style>
      </head>
      <body>
        {props.children}
        <script type="application/json" id="rb-data">
          {raw(jsonForScript(props.data))}
        </script>
        <script nonce={props.nonce}>{raw(SESSION_JS + props.script)}</script>
      </body>
    </html>
  );
}

/** JSON safe inside <script>: no "</script>", no comment openers, no U+2028/9. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function CourseAdminPage(props: { nonce: string; courseId: string }) {
  return (
    <Layout title="Course privileges" nonce={props.nonce} data={{ courseId: props.courseId }} script={COURSE_ADMIN_JS}>
      <header>
        <p class="muted" id="who">
          Signing you in…
        </p>
        <h1 id="course-title">Course privileges</h1>
      </header>
      <p id="status" role="status" aria-live="polite"></p>

      <section aria-labelledby="people-h">
        <h2 id="people-h">People and their privileges</h2>
        <table id="people">
          <thead>
            <tr>
              <th>Person</th>
              <th>Status</th>
              <th>Roles</th>
              <th>Allowed</th>
              <th>Denied</th>
              <th>Effective</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td colspan={7} class="muted">
                Loading…
              </td>
            </tr>
          </tbody>
        </table>
      </section>

      <section class="panel" aria-labelledby="search-h">
        <h2 id="search-h">Find someone</h2>
        <search>
          <form id="search-form">
            <input
              type="search"
              id="search"
              name="q"
              placeholder="Name, email, user name or school id"
              aria-label="Search people"
            />
            <button type="submit">Search</button>
          </form>
        </search>
        <ul id="results"></ul>
      </section>

      <section class="panel" aria-labelledby="grant-h">
        <h2 id="grant-h">Grant or deny privileges</h2>
        <form id="grant-form">
          <p>
            <label>
              Person{' '}
              <input
                type="text"
                id="grant-person"
                name="person"
                placeholder="Pick someone above"
                required
                aria-describedby="grant-person-help"
              />
            </label>
            <span class="muted" id="grant-person-help">
              a person id, email:… or key:…
            </span>
          </p>
          <fieldset id="grant-allow">
            <legend>Allow</legend>
          </fieldset>
          <fieldset id="grant-deny">
            <legend>Deny</legend>
          </fieldset>
          <button type="submit">Save</button>
        </form>
      </section>

      <section class="panel" aria-labelledby="cantfind-h">
        <h2 id="cantfind-h">Can't find the person you're looking for?</h2>
        <p class="muted">
          Type their email or school id and grant as usual. If they are not here yet we keep the grant for them, send an
          invitation to an email address, and it takes effect when they first open the tool from your course.
        </p>
        <form id="cantfind-form">
          <p>
            <label>
              Email or school id{' '}
              <input type="text" id="cantfind-ref" name="ref" required placeholder="ada@school.example or S-1815" />
            </label>
          </p>
          <fieldset id="cantfind-allow">
            <legend>Allow</legend>
          </fieldset>
          <fieldset id="cantfind-deny">
            <legend>Deny</legend>
          </fieldset>
          <button type="submit">Grant anyway</button>
        </form>
      </section>
    </Layout>
  );
}

export function WelcomePage(props: { nonce: string; invitation: string | null }) {
  return (
    <Layout title="Welcome" nonce={props.nonce} data={{ invitation: props.invitation }} script={WELCOME_JS}>
      <h1 id="welcome">Welcome</h1>
      <p id="status" role="status" aria-live="polite"></p>
      <section id="mine" hidden>
        <h2>What you can do in this course</h2>
        <ul id="privileges"></ul>
      </section>
      <section id="invite" class="panel" hidden>
        <h2>Your invitation</h2>
        <p>Accept it to receive what was prepared for you.</p>
        <button type="button" id="accept">
          Accept invitation
        </button>
      </section>
      <p class="muted" id="signin-help" hidden>
        Open this tool from your course in your school's learning platform to sign in, then open the invitation link
        again.
      </p>
    </Layout>
  );
}
