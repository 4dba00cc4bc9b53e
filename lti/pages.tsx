/** @jsxImportSource hono/jsx */
import { contentSecurityPolicy, newNonce, renderDocument } from '../src/web/html.js';
import { DataScript, Layout } from '../src/web/layout.js';

/**
 * Server-rendered LTI pages on the shared layout (src/web/layout.tsx). Data for scripts travels in
 * a JSON <script> element, never interpolated into code; the scripts are bundles of
 * src/web/client/lti-*.ts loaded under the response's CSP nonce.
 */
export { jsonForScript } from '../src/web/html.js';

/**
 * `framedBy`: the URLs of the platform this page answers (its issuer and login endpoint), whose
 * origins alone may frame it. Without one — an error before the platform is known — any page may
 * frame it, so the LMS's iframe can show why the tool did not open; such a page has no control to
 * click.
 */
export function cspHeader(nonce: string, framedBy?: readonly string[]): string {
  return contentSecurityPolicy({
    nonce,
    // The login page and deep linking response post/navigate to the platform.
    formAction: ['https:', 'http:'],
    frameAncestors: framedBy ?? '*',
  });
}

const CHECK_HELP: Record<string, string> = {
  browser: 'Your browser did not keep the login cookie for this tool. Open the tool in a new window and try again.',
  state: 'This launch link was already used or has expired. Go back to your course and open the tool again.',
  identity: 'Ask your school to add you to Rosterbridge, then open the tool again.',
  person_inactive: 'Your account is not active. Ask your school if this is unexpected.',
};

export function ErrorPage(props: { status: number; check: string; message: string; requestId: string }) {
  return (
    <Layout title="The tool could not be opened" nonce={newNonce()}>
      <h1>The tool could not be opened</h1>
      <p>{props.message}</p>
      {CHECK_HELP[props.check] ? <p>{CHECK_HELP[props.check]}</p> : null}
      <p class="muted">
        Failed check: <code data-check={props.check}>{props.check}</code> · status {props.status}
        <br />
        Reference for your school's support: <code data-request-id={props.requestId}>{props.requestId}</code>
      </p>
    </Layout>
  );
}

/** Login response when the platform offers storage: store state and nonce, then go to the auth endpoint. */
export function StorageLoginPage(props: {
  cspNonce: string;
  data: { authUrl: string; authOrigin: string; storageTarget: string; state: string; nonce: string };
}) {
  return (
    <Layout title="Opening the tool…" nonce={props.cspNonce} script="lti-login">
      <p>Opening the tool…</p>
      <noscript>
        <p>
          <a href={props.data.authUrl}>Continue</a>
        </p>
      </noscript>
      <DataScript id="lti-login" value={props.data} />
    </Layout>
  );
}

/** Launch response without the state cookie: prove the browser through platform storage first. */
export function StorageVerifyPage(props: {
  cspNonce: string;
  data: {
    authOrigin: string;
    fallbackOrigin: string | null;
    storageTarget: string;
    state: string;
    nonce: string;
    ticket: string;
    confirmUrl: string;
  };
}) {
  return (
    <Layout title="Opening the tool…" nonce={props.cspNonce} script="lti-verify">
      <p id="status">Checking this launch…</p>
      <DataScript id="lti-verify" value={props.data} />
    </Layout>
  );
}

/** Deep linking response: an auto-submitting form posting the signed JWT to the platform. */
export function DeepLinkResponsePage(props: {
  cspNonce: string;
  returnUrl: string;
  jwt: string;
  itemTitle: string | null;
}) {
  return (
    <Layout title="Adding the tool…" nonce={props.cspNonce} script="lti-autosubmit">
      <form id="dl" method="post" action={props.returnUrl}>
        <input type="hidden" name="JWT" value={props.jwt} />
        <p>{props.itemTitle ? `Adding “${props.itemTitle}” to your course…` : 'Returning to your course…'}</p>
        <button type="submit">Continue</button>
      </form>
    </Layout>
  );
}

/** After dynamic registration: tell the platform's registration window to close (LTI DR §3.6). */
export function RegistrationDonePage(props: {
  cspNonce: string;
  issuer: string;
  clientId: string;
  deploymentId: string;
}) {
  return (
    <Layout title="Rosterbridge registered" nonce={props.cspNonce} script="lti-registered">
      <h1>Rosterbridge is registered</h1>
      <p>
        Platform <code>{props.issuer}</code>, client <code>{props.clientId}</code>, deployment{' '}
        <code>{props.deploymentId}</code>.
      </p>
      <DataScript id="lti-close" value={{ subject: 'org.imsglobal.lti.close' }} />
    </Layout>
  );
}

export const renderPage = renderDocument;
