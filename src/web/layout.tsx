/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import { assetPath, type ClientEntry } from './assets.js';
import { jsonForScript } from './html.js';

/**
 * The one page layout of every server-rendered page (src/web and lti/): document head, the
 * stylesheet, a JSON data element for the page's script, and the script itself — a bundle from
 * src/web/client loaded from this origin under the response's CSP nonce.
 */
export const STYLE = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--link:#0550ae;--ok:#1a7f37;--okbg:#dafbe1;
--bad:#cf222e;--badbg:#ffebe9;--warnbg:#fff8c5;--warn:#7d4e00;--info:#ddf4ff;--focus:#0969da}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:#fff}
main{max-width:44rem;margin:1.5rem auto;padding:0 1rem}
body.wide main{max-width:76rem}
h1{font-size:1.35rem;margin:.2rem 0 .6rem}h2{font-size:1.08rem;margin:1.6rem 0 .5rem}
a{color:var(--link)}code{font:.85rem ui-monospace,monospace;background:var(--soft);padding:0 .2rem;border-radius:.2rem}
.muted{color:var(--muted);font-size:.9rem}
button,input,select,textarea{font:inherit;color:inherit}
button{padding:.3rem .8rem;border:1px solid var(--line);border-radius:.35rem;background:var(--soft);cursor:pointer}
button.primary{background:var(--link);border-color:var(--link);color:#fff}
button:disabled{opacity:.6;cursor:default}
input[type=text],input[type=search],input[type=email],textarea,select{padding:.3rem .5rem;border:1px solid #8c959f;border-radius:.35rem;background:#fff}
:focus-visible{outline:3px solid var(--focus);outline-offset:1px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.4rem .5rem;text-align:left;vertical-align:middle}
th{font-weight:600;background:var(--soft);font-size:.9rem}
.badge{display:inline-block;border-radius:1rem;padding:0 .55rem;font-size:.8rem;white-space:nowrap;background:var(--soft);border:1px solid var(--line)}
.badge.active{background:var(--okbg);border-color:#aceebb;color:#116329}
.badge.waiting{background:var(--warnbg);border-color:#eed888;color:var(--warn)}
.badge.suspended{background:var(--badbg);border-color:#ffcecb;color:#a40e26}
.notice{border:1px solid var(--line);border-left:4px solid var(--link);border-radius:.35rem;padding:.6rem .8rem;margin:.8rem 0;background:#fff}
.notice.error{border-left-color:var(--bad);background:var(--badbg)}
.notice.ok{border-left-color:var(--ok);background:var(--okbg)}
.panel{border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
.visually-hidden{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
[hidden]{display:none!important}
`;

export interface LayoutProps {
  title: string;
  /** The response's CSP nonce: the stylesheet and script carry it. */
  nonce: string;
  /** The page's browser code (a bundle of src/web/client/<name>.ts), if any. */
  script?: ClientEntry;
  /** Data for the script, in <script type="application/json" id="rb-data">. */
  data?: unknown;
  /** Extra stylesheet text for this page. */
  style?: string;
  /** Tables of people want the width; text pages read better narrow. */
  wide?: boolean;
  children?: Child;
}

export function Layout(props: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        <style nonce={props.nonce}>{raw(STYLE + (props.style ?? ''))}</style>
      </head>
      <body class={props.wide ? 'wide' : undefined}>
        <main>{props.children}</main>
        {props.data === undefined ? null : <DataScript id="rb-data" value={props.data} />}
        {props.script ? <script nonce={props.nonce} src={assetPath(props.script)} defer></script> : null}
      </body>
    </html>
  );
}

/** Data for a page script: JSON, never code. */
export function DataScript(props: { id: string; value: unknown }) {
  return (
    <script type="application/json" id={props.id}>
      {raw(jsonForScript(props.value))}
    </script>
  );
}
