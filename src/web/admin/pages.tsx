/** @jsxImportSource hono/jsx */
import type { AuditLine } from '../../domain/admin-session-audit.js';
import type { LaunchLogItem } from '../../domain/launch-log.js';
import type { PlatformView } from '../../domain/platforms.js';
import type { PersonSummary } from '../../domain/people-search.js';
import type { ProvisioningLogItem } from '../../domain/provisioning-log.js';
import type { TokenView } from '../../domain/tokens.js';
import { Layout } from '../layout.js';
import {
  actionWords,
  checkWords,
  PERSON_STATUS_WORDS,
  personStatusWord,
  scimRequestWords,
  statusWords,
  when,
} from './words.js';

/**
 * The school admin page (/app/admin) and its sign-in, 401 and 403 pages, rendered on the server
 * (hono/jsx): every panel works without script; the page's script only adds copy buttons.
 */
const STYLE = `
.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:flex-end;justify-content:space-between;border-bottom:1px solid var(--line);padding-bottom:.6rem}
.top h1{margin:0}.flush{margin:0}nav.sections{margin:.8rem 0}nav.sections a{margin-right:1.2rem}
main h2{font-size:1.2rem;margin:2.2rem 0 .5rem;padding-top:.6rem;border-top:2px solid var(--line)}
h3{font-size:1.02rem;margin:1.3rem 0 .4rem}table{margin:.3rem 0}
.ok{color:#116329}.bad{color:#a40e26}
.copy-row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.35rem 0}.copy-row label{min-width:17rem;font-weight:600}
.copy-row input{flex:1;min-width:14rem;font:.88rem ui-monospace,monospace}
input[type=password]{padding:.3rem .5rem;border:1px solid #8c959f;border-radius:.35rem}
button.danger{color:#a40e26}.alert{border:1px solid #ff8182;background:var(--badbg);border-radius:.4rem;padding:.6rem .9rem;margin:1rem 0}
.done{border:1px solid #4ac26b;background:var(--okbg);border-radius:.4rem;padding:.6rem .9rem;margin:1rem 0}
.secret{border:2px solid #bf8700;background:var(--warnbg);border-radius:.4rem;padding:.6rem .9rem;margin:1rem 0}
.cards{list-style:none;padding:0;margin:.3rem 0;display:flex;flex-wrap:wrap;gap:.75rem}
.card{border:1px solid var(--line);border-radius:.4rem;padding:.45rem .8rem;min-width:11rem}.card strong{display:block;font-size:1.3rem}
form.inline{display:inline}.pager a{margin-right:1rem}.field{margin:.45rem 0}.field label{display:inline-block;min-width:9rem}
meter{width:16rem;height:1.1rem;vertical-align:middle}
`;

/** 401: nobody is signed in. No form here: it says where to sign in. */
export function SignedOutPage(props: { nonce: string }) {
  return (
    <Layout title="Sign in to the school admin page" nonce={props.nonce} style={STYLE}>
      <div id="signed-out">
        <h1>School admin page</h1>
        <p>You are not signed in.</p>
        <ul>
          <li>
            If you look after your school’s Rosterbridge, <a href="/app/admin/sign-in">sign in with an admin token</a>.
          </li>
          <li>If you administer your school’s LMS, open Rosterbridge’s admin link from the LMS.</li>
        </ul>
      </div>
    </Layout>
  );
}

/** 403: signed in through the LMS, but not as an LMS administrator. */
export function NotAnAdminPage(props: { nonce: string }) {
  return (
    <Layout title="Not available to you" nonce={props.nonce} style={STYLE}>
      <div id="forbidden">
        <h1>This page is for your school’s administrators</h1>
        <p>
          You opened it from your LMS without the LMS Administrator role. Ask your school’s IT team if you need to see
          how Rosterbridge is connected.
        </p>
      </div>
    </Layout>
  );
}

export function SignInPage(props: { nonce: string; error?: string }) {
  return (
    <Layout title="Sign in to the school admin page" nonce={props.nonce} style={STYLE}>
      <div>
        <h1>Sign in to the school admin page</h1>
        {props.error ? (
          <p class="alert" role="alert" id="sign-in-error">
            {props.error}
          </p>
        ) : null}
        <p>
          Paste an admin token of your school (it starts with <code>rb_admin_</code>;{' '}
          <code>rosterbridge token create --kind admin</code> makes one). It is checked once and not kept in this
          browser: you get a session cookie.
        </p>
        <form method="post" action="/app/admin/sign-in" id="sign-in-form">
          <div class="field">
            <label for="token">Admin token</label>
            <input type="password" id="token" name="token" autocomplete="off" required size={60} />
          </div>
          <button type="submit" class="primary">
            Sign in
          </button>
        </form>
      </div>
    </Layout>
  );
}

export interface AdminPageData {
  nonce: string;
  csrf: string;
  publicUrl: string;
  who: string;
  tenantName: string;
  /** A fixed message after a write. */
  notice?: string | null;
  error?: string | null;
  newToken?: { name: string; secret: string } | null;
  newRegistrationLink?: { url: string; expiresAt: string } | null;
  seatLimit: number | null;
  seatsUsed: number;
  people: Record<string, number>;
  lastScimSuccess: string | null;
  tokens: TokenView[];
  scimLog: { items: ProvisioningLogItem[]; next: number | null };
  scimFailedOnly: boolean;
  launchLog: { items: LaunchLogItem[]; next: number | null };
  launchFailedOnly: boolean;
  platforms: PlatformView[];
  audit: { items: AuditLine[]; next: number | null };
  search: { q: string; items: PersonSummary[]; next: string | null } | null;
  /** The current query, for paging links. */
  query: Record<string, string>;
}

function link(query: Record<string, string>, changes: Record<string, string | null>, hash: string): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...query, ...changes })) if (v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return `/app/admin${s ? `?${s}` : ''}#${hash}`;
}

function CopyRow(props: { id: string; label: string; value: string }) {
  return (
    <div class="copy-row">
      <label for={props.id}>{props.label}</label>
      <input type="text" id={props.id} value={props.value} readonly />
      <button type="button" class="copy" data-copy={props.id} aria-label={`Copy ${props.label}`} hidden>
        Copy
      </button>
    </div>
  );
}

function Csrf(props: { value: string }) {
  return <input type="hidden" name="csrf" value={props.value} />;
}

/** Words joined into a sentence that starts with a capital. */
const sentence = (parts: string[]) => {
  const text = parts.filter(Boolean).join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
};

const host = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

export function AdminPage(d: AdminPageData) {
  const scimBase = `${d.publicUrl}/scim/v2`;
  const totalPeople = Object.entries(d.people)
    .filter(([s]) => s !== 'merged')
    .reduce((n, [, v]) => n + v, 0);
  return (
    <Layout title={`School admin — ${d.tenantName}`} nonce={d.nonce} script="admin" style={STYLE} wide>
      <div class="top">
        <div>
          <p class="muted flush">School admin page</p>
          <h1 id="tenant-name">{d.tenantName}</h1>
        </div>
        <div>
          <span id="who">Signed in as {d.who}</span>{' '}
          <form method="post" action="/app/admin/sign-out" class="inline">
            <Csrf value={d.csrf} />
            <button type="submit" id="sign-out">
              Sign out
            </button>
          </form>
        </div>
      </div>
      <div id="panels">
        <p class="visually-hidden" role="status" aria-live="polite" id="copy-status"></p>
        <nav class="sections" aria-label="Panels">
          <a href="#scim">Identity provider (SCIM)</a>
          <a href="#lti">LMS (LTI)</a>
          <a href="#school">School</a>
        </nav>
        {d.notice ? (
          <p class="notice ok" role="status" id="notice">
            {d.notice}
          </p>
        ) : null}
        {d.error ? (
          <p class="alert" role="alert" id="error">
            {d.error}
          </p>
        ) : null}

        <section aria-labelledby="scim">
          <h2 id="scim">Identity provider (SCIM)</h2>
          <p>Paste these into your identity provider’s provisioning settings (Entra ID, Okta, Google, …).</p>
          <CopyRow id="scim-base-url" label="SCIM base URL" value={scimBase} />
          <p id="last-scim">
            Last successful SCIM call:{' '}
            <strong>
              {d.lastScimSuccess ? <time datetime={d.lastScimSuccess}>{when(d.lastScimSuccess)}</time> : 'none yet'}
            </strong>
          </p>

          <h3 id="people-h">People by status</h3>
          <ul class="cards" aria-labelledby="people-h" id="people-counts">
            {['provisioned', 'active', 'invited', 'suspended', 'deprovisioned'].map((s) => (
              <li class="card" data-status={s}>
                <strong>{d.people[s] ?? 0}</strong>
                {PERSON_STATUS_WORDS[s]}
              </li>
            ))}
          </ul>

          <h3 id="tokens-h">SCIM tokens</h3>
          {d.newToken ? (
            <div class="secret" id="new-token" role="status">
              <p>
                <strong>Your new SCIM token “{d.newToken.name}”.</strong> Copy it into your identity provider now: it is
                shown only this once.
              </p>
              <CopyRow id="new-token-value" label="New SCIM token" value={d.newToken.secret} />
            </div>
          ) : null}
          <table id="tokens" aria-labelledby="tokens-h">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="muted">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {d.tokens.length === 0 ? (
                <tr>
                  <td colspan={6} class="muted">
                    No SCIM token yet: create one below for your identity provider.
                  </td>
                </tr>
              ) : (
                d.tokens.map((t) => {
                  const expired = t.expiresAt !== null && Date.parse(t.expiresAt) <= Date.now();
                  const state = t.revokedAt ? 'revoked' : expired ? 'expired' : 'working';
                  return (
                    <tr data-token-name={t.name}>
                      <td>{t.name}</td>
                      <td>{when(t.createdAt)}</td>
                      <td>{when(t.lastUsedAt)}</td>
                      <td>{t.expiresAt ? when(t.expiresAt) : 'never'}</td>
                      <td class={state === 'working' ? 'ok' : 'bad'}>{state}</td>
                      <td>
                        {state === 'working' ? (
                          <form method="post" action="/app/admin/scim-tokens/revoke" class="inline">
                            <Csrf value={d.csrf} />
                            <input type="hidden" name="token" value={t.id} />
                            <button type="submit" class="danger" aria-label={`Revoke the SCIM token “${t.name}”`}>
                              Revoke
                            </button>
                          </form>
                        ) : null}
                      </td>
                    </tr>
                  );
                })
              )}
            </tbody>
          </table>
          <form method="post" action="/app/admin/scim-tokens" id="create-token">
            <Csrf value={d.csrf} />
            <div class="field">
              <label for="token-name">Token name</label>
              <input
                type="text"
                id="token-name"
                name="name"
                required
                maxlength={100}
                placeholder="Entra ID provisioning"
              />
            </div>
            <div class="field">
              <label for="token-expiry">Expires</label>
              <select id="token-expiry" name="expires">
                <option value="">never</option>
                <option value="30d">in 30 days</option>
                <option value="90d">in 90 days</option>
                <option value="365d">in a year</option>
              </select>
            </div>
            <button type="submit" class="primary">
              Create SCIM token
            </button>
          </form>

          <h3 id="scim-log-h">Provisioning log</h3>
          <p class="muted">
            The last requests your identity provider made, newest first. Bodies are not kept; names are shown as they
            are now.{' '}
            {d.scimFailedOnly ? (
              <a href={link(d.query, { scimFailed: null, scimBefore: null }, 'scim-log-h')}>Show every request</a>
            ) : (
              <a href={link(d.query, { scimFailed: '1', scimBefore: null }, 'scim-log-h')}>Show only failures</a>
            )}
          </p>
          <table id="scim-log" aria-labelledby="scim-log-h">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Request</th>
                <th scope="col">Person or group</th>
                <th scope="col">Result</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {d.scimLog.items.length === 0 ? (
                <tr>
                  <td colspan={5} class="muted">
                    No SCIM request yet. Once your identity provider has the base URL and a token, its requests appear
                    here.
                  </td>
                </tr>
              ) : (
                d.scimLog.items.map((e) => (
                  <tr>
                    <td>
                      <time datetime={e.at}>{when(e.at)}</time>
                    </td>
                    <td>{scimRequestWords(e.method, e.resource, e.target !== null, e.operations)}</td>
                    <td>{e.target?.name ?? ''}</td>
                    <td class={e.status < 400 ? 'ok' : 'bad'}>
                      {statusWords(e.status)} <span class="muted">({e.status})</span>
                    </td>
                    <td>{e.detail ?? ''}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
          {d.scimLog.next !== null ? (
            <p class="pager">
              <a href={link(d.query, { scimBefore: String(d.scimLog.next) }, 'scim-log-h')}>Older requests</a>
            </p>
          ) : null}
        </section>

        <section aria-labelledby="lti">
          <h2 id="lti">LMS (LTI 1.3)</h2>
          <p>Paste these into your LMS when you add Rosterbridge as an LTI 1.3 tool.</p>
          <CopyRow id="lti-login-url" label="Login initiation URL" value={`${d.publicUrl}/lti/login`} />
          <CopyRow id="lti-launch-url" label="Launch (redirect) URL" value={`${d.publicUrl}/lti/launch`} />
          <CopyRow id="lti-jwks-url" label="Public keyset (JWKS) URL" value={`${d.publicUrl}/lti/jwks`} />
          <CopyRow id="lti-deep-link-url" label="Deep linking URL" value={`${d.publicUrl}/lti/launch`} />
          <CopyRow
            id="lti-admin-url"
            label="Admin page link (for LMS administrators)"
            value={`${d.publicUrl}/app/admin`}
          />

          <h3 id="register-h">Dynamic Registration</h3>
          <p>
            LMSs that support LTI Dynamic Registration (Moodle, Canvas, D2L, …) can register Rosterbridge themselves
            from a one-time link, valid for 7 days.
          </p>
          {d.newRegistrationLink ? (
            <div class="secret" id="new-registration-link" role="status">
              <p>
                <strong>Your registration link.</strong> Paste it into your LMS’s tool registration. It works once,
                until {when(d.newRegistrationLink.expiresAt)}, and is shown only this once.
              </p>
              <CopyRow id="registration-link" label="Registration link" value={d.newRegistrationLink.url} />
            </div>
          ) : null}
          <form method="post" action="/app/admin/registration-links">
            <Csrf value={d.csrf} />
            <button type="submit">Create a registration link</button>
          </form>

          <h3 id="platforms-h">Registered LMSs</h3>
          <table id="platforms" aria-labelledby="platforms-h">
            <thead>
              <tr>
                <th scope="col">LMS</th>
                <th scope="col">Client ID</th>
                <th scope="col">Deployments</th>
                <th scope="col">Trusts LMS emails</th>
                <th scope="col">Creates people at first launch</th>
                <th scope="col">Shown from</th>
                <th scope="col">Registered</th>
              </tr>
            </thead>
            <tbody>
              {d.platforms.length === 0 ? (
                <tr>
                  <td colspan={7} class="muted">
                    No LMS registered yet: use a registration link above, or <code>rosterbridge platform add</code>.
                  </td>
                </tr>
              ) : (
                d.platforms.map((p) => (
                  <tr>
                    <td>{host(p.issuer)}</td>
                    <td>{p.clientId}</td>
                    <td>{p.deploymentIds.join(', ')}</td>
                    <td>{p.trustEmail ? 'yes' : 'no'}</td>
                    <td>{p.jitCreate ? 'yes' : 'no'}</td>
                    <td class="shown-from">
                      {p.frameOrigins.length ? (
                        p.frameOrigins.map(host).join(', ')
                      ) : (
                        <span class="muted">its own address</span>
                      )}
                    </td>
                    <td>{when(p.createdAt)}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>

          <h3 id="launch-log-h">Launches</h3>
          <p class="muted">
            The last launches from your LMS, newest first; a refused one says which check refused it.{' '}
            {d.launchFailedOnly ? (
              <a href={link(d.query, { launchFailed: null, launchBefore: null }, 'launch-log-h')}>Show every launch</a>
            ) : (
              <a href={link(d.query, { launchFailed: '1', launchBefore: null }, 'launch-log-h')}>
                Show only failed launches
              </a>
            )}
          </p>
          <table id="launch-log" aria-labelledby="launch-log-h">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Result</th>
                <th scope="col">Person</th>
                <th scope="col">Course</th>
                <th scope="col">Roles</th>
                <th scope="col">LMS</th>
              </tr>
            </thead>
            <tbody>
              {d.launchLog.items.length === 0 ? (
                <tr>
                  <td colspan={6} class="muted">
                    No launch yet.
                  </td>
                </tr>
              ) : (
                d.launchLog.items.map((e) => (
                  <tr data-ok={String(e.ok)} data-check={e.failedCheck ?? ''}>
                    <td>
                      <time datetime={e.at}>{when(e.at)}</time>
                    </td>
                    <td class={e.ok ? 'ok' : 'bad'}>
                      {e.ok ? (
                        'Signed in'
                      ) : (
                        <>
                          Refused: {checkWords(e.failedCheck)}
                          <div class="muted">{e.detail}</div>
                        </>
                      )}
                    </td>
                    <td>{e.person?.name ?? (e.ok ? 'anonymous' : '')}</td>
                    <td>{e.course?.title ?? ''}</td>
                    <td>{e.roles.join(', ')}</td>
                    <td>{e.platform ? host(e.platform) : ''}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
          {d.launchLog.next !== null ? (
            <p class="pager">
              <a href={link(d.query, { launchBefore: String(d.launchLog.next) }, 'launch-log-h')}>Older launches</a>
            </p>
          ) : null}
        </section>

        <section aria-labelledby="school">
          <h2 id="school">School</h2>
          <p>
            Name: <strong>{d.tenantName}</strong>
          </p>
          <p id="seats">
            {d.seatLimit === null ? (
              <>
                {d.seatsUsed} seats used (no seat limit). {totalPeople} people in all.
              </>
            ) : (
              <>
                <label for="seat-meter">
                  {d.seatsUsed} of {d.seatLimit} seats used
                </label>{' '}
                <meter id="seat-meter" min={0} max={d.seatLimit} value={d.seatsUsed} high={d.seatLimit * 0.9}>
                  {d.seatsUsed} of {d.seatLimit}
                </meter>
              </>
            )}
          </p>

          <h3 id="search-h">Find a person</h3>
          <search>
            <form method="get" action="/app/admin#search-h" id="people-search">
              <label for="q">Name, email, user name or school id</label>{' '}
              <input type="search" id="q" name="q" value={d.search?.q ?? ''} /> <button type="submit">Search</button>
            </form>
          </search>
          {d.search ? (
            <table id="people" aria-labelledby="search-h">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">User name</th>
                  <th scope="col">School id</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {d.search.items.length === 0 ? (
                  <tr>
                    <td colspan={5} class="muted">
                      Nobody matches “{d.search.q}”.
                    </td>
                  </tr>
                ) : (
                  d.search.items.map((p) => (
                    <tr>
                      <td>{p.displayName ?? ''}</td>
                      <td>{p.email ?? ''}</td>
                      <td>{p.userName ?? ''}</td>
                      <td>{p.externalId ?? ''}</td>
                      <td>{personStatusWord(p.status)}</td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          ) : null}
          {d.search?.next ? (
            <p class="pager">
              <a href={link(d.query, { peopleAfter: d.search.next }, 'search-h')}>More people</a>
            </p>
          ) : null}

          <h3 id="audit-h">Audit log</h3>
          <table id="audit" aria-labelledby="audit-h">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">What happened</th>
              </tr>
            </thead>
            <tbody>
              {d.audit.items.length === 0 ? (
                <tr>
                  <td colspan={2} class="muted">
                    Nothing yet.
                  </td>
                </tr>
              ) : (
                d.audit.items.map((e) => (
                  <tr>
                    <td>
                      <time datetime={e.at}>{when(e.at)}</time>
                    </td>
                    <td>
                      {sentence([e.actor, actionWords(e.action), e.target ?? '', e.course ? `in ${e.course}` : ''])}
                    </td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
          {d.audit.next !== null ? (
            <p class="pager">
              <a href={link(d.query, { auditBefore: String(d.audit.next) }, 'audit-h')}>Older events</a>
            </p>
          ) : null}
        </section>
      </div>
    </Layout>
  );
}
