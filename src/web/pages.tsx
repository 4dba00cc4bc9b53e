/** @jsxImportSource hono/jsx */
import { Layout } from './layout.js';

/**
 * Server-rendered app pages on the shared layout (./layout.tsx). The pages hold no data
 * server-side; their script (src/web/client) calls /api/v1 with the launch session.
 */
const WELCOME_STYLE = `.error{color:var(--bad)}`;

/** The course admin page's own styles: the people table, cells, the tip that explains a decision. */
const COURSE_STYLE = `
header.course{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:.5rem;border-bottom:1px solid var(--line);margin-bottom:.5rem}
.scroll{overflow-x:auto;position:relative;border:1px solid var(--line);border-radius:.5rem}
#people{min-width:40rem}#people th,#people td{padding:.35rem .45rem}
#people th.priv{font-size:.8rem;line-height:1.25;min-width:6.2rem;max-width:8rem;white-space:normal}
#people th.priv abbr{text-decoration:none}
#people td.who{min-width:11rem}
.who .sub{color:var(--muted);font-size:.82rem;word-break:break-all}
td.cell select{font-size:.82rem;padding:.1rem .2rem;width:100%}
td.cell.saving{opacity:.6}
.eff{display:inline-block;white-space:nowrap;margin-top:.2rem;font-size:.8rem;border-radius:.25rem;padding:0 .3rem;position:relative;cursor:help}
.eff.yes{color:#116329;background:var(--okbg)}.eff.no{color:#a40e26;background:var(--badbg)}.eff.wait{color:var(--warn);background:var(--warnbg)}
.eff .tip{display:none;position:absolute;z-index:5;left:0;top:1.5rem;width:16rem;background:#1b1f24;color:#fff;padding:.45rem .6rem;border-radius:.35rem;font-size:.8rem;line-height:1.35;white-space:normal}
.eff:hover .tip,.eff:focus .tip{display:block}
.row-actions button{font-size:.8rem;padding:.15rem .5rem}
.search-row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
.search-row label{display:flex;flex-direction:column;font-weight:600;font-size:.9rem}
.search-row input{min-width:18rem}
.banner{border:1px solid #eed888;background:#fffbe6;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}
.banner h3{margin:0 0 .4rem;font-size:1rem}
.controls{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.5rem .9rem;margin:.5rem 0}
.controls .ctl{display:flex;flex-direction:column;font-size:.82rem;width:8.5rem}.controls select{width:100%}
#cantfind input[type=text]{min-width:20rem;max-width:100%}
.results td,.results th{font-size:.88rem}
progress{width:100%;height:1rem}
#history li{margin:.25rem 0}#history time{color:var(--muted);font-size:.85rem;margin-left:.4rem}
details.bulk-help{margin:.4rem 0}
textarea{width:100%;min-height:6rem}
.refusal{border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
.refusal h2{margin-top:0}
`;

interface Refusal {
  kind: 'unauthenticated' | 'forbidden';
  title: string;
  lines: string[];
}

/**
 * The course admin page. The server draws the shell and, when it refuses, the refusal (no forms);
 * the script (src/web/client/course-admin.ts) builds the table and the panels from the API.
 */
export function CoursePage(props: {
  nonce: string;
  data: { courseId: string; cookie?: boolean };
  courseTitle: string | null;
  refusal: Refusal | null;
}) {
  const forbidden = props.refusal?.kind === 'forbidden';
  return (
    <Layout
      title={props.courseTitle ? `${props.courseTitle} — privileges` : 'Course privileges'}
      nonce={props.nonce}
      data={props.data}
      // A refusal made with the cookie is final: no script, nothing to build.
      script={forbidden ? undefined : 'course-admin'}
      style={COURSE_STYLE}
      wide
    >
      <header class="course">
        <h1 id="course-title">{props.courseTitle ?? 'Course privileges'}</h1>
        <p class="muted" id="who"></p>
      </header>
      <div id="notice" role="status" aria-live="polite"></div>
      <div id="app">
        {props.refusal ? (
          <section class="refusal" id="refusal" data-refusal={props.refusal.kind} aria-labelledby="refusal-h">
            <h2 id="refusal-h">{props.refusal.title}</h2>
            {props.refusal.lines.map((l) => (
              <p>{l}</p>
            ))}
          </section>
        ) : (
          <p class="muted">Loading the course…</p>
        )}
      </div>
    </Layout>
  );
}

export function CourseNotFoundPage(props: { nonce: string }) {
  return (
    <Layout title="Course not found" nonce={props.nonce}>
      <h1>Course not found</h1>
      <p>There is no such course. Open Rosterbridge again from your course in your school’s learning platform.</p>
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
      style={WELCOME_STYLE}
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
