/** @jsxImportSource hono/jsx */
import { Layout } from './layout.js';

/**
 * Server-rendered app pages on the shared layout (./layout.tsx). The pages hold no data
 * server-side; their script (src/web/client) calls /api/v1 with the launch session.
 */
const PAGE_STYLE = `.tag{display:inline-block;border-radius:.6rem;padding:0 .45rem;margin:0 .15rem .15rem 0;font-size:.8rem;background:#eef1f4}
.allow{background:#dafbe1}.deny{background:#ffebe9}.eff{background:#ddf4ff}.status-invited{background:#fff8c5}
fieldset{border:1px solid #d8dee4;border-radius:.4rem;margin:.5rem 0;padding:.5rem .75rem}legend{font-weight:600}
fieldset label{display:inline-block;margin-right:1rem}.error{color:#cf222e}`;

export function CourseAdminPage(props: { nonce: string; courseId: string }) {
  return (
    <Layout
      title="Course privileges"
      nonce={props.nonce}
      data={{ courseId: props.courseId }}
      script="course-admin"
      style={PAGE_STYLE}
      wide
    >
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
    <Layout
      title="Welcome"
      nonce={props.nonce}
      data={{ invitation: props.invitation }}
      script="welcome"
      style={PAGE_STYLE}
    >
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
