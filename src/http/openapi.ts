import type { OpenAPIHono } from '@hono/zod-openapi';

/**
 * The OpenAPI 3.1 document is generated from the route contracts (src/contract/*): the /api/v1
 * routes registered with createRoute, and the SCIM and LTI operations described there. Call it
 * once every router is mounted.
 */
export function buildOpenApi(app: OpenAPIHono, publicUrl: string) {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A tenant API token (rb_admin_… or rb_scim_…), or an LTI launch session on course routes',
  });
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Rosterbridge API',
      version: '0.1.0',
      description:
        'Tenant administration, courses, people and privileges under /api/v1; SCIM 2.0 under /scim/v2 and LTI 1.3 under /lti.',
    },
    servers: [{ url: publicUrl }],
    security: [{ bearer: [] }],
  });
  return { ...doc, info: { ...doc.info, description: doc.info.description ?? '' } };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

interface Operation {
  summary?: string;
  description?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string }>;
  requestBody?: unknown;
  responses?: Record<string, { description?: string }>;
}

function renderParameters(params: NonNullable<Operation['parameters']>): string {
  if (!params.length) return '';
  const rows = params.map(
    (p) =>
      `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td>` +
      `<td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml(p.description ?? '')}</td></tr>`,
  );
  return `<table><tr><th>parameter</th><th>in</th><th>required</th><th>description</th></tr>${rows.join('')}</table>`;
}

function renderOperation(method: string, path: string, op: Operation): string {
  const body = op.requestBody
    ? `<details><summary>request body</summary><pre>${escapeHtml(JSON.stringify(op.requestBody, null, 2))}</pre></details>`
    : '';
  const responses = Object.entries(op.responses ?? {}).map(
    ([code, r]) => `<li><b>${escapeHtml(code)}</b> ${escapeHtml(r.description ?? '')}</li>`,
  );
  return `<section class="op" id="${escapeHtml(method + path)}">
  <h3><span class="m ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>
  <p>${escapeHtml(op.summary ?? '')}</p>${op.description ? `\n  <p class="d">${escapeHtml(op.description)}</p>` : ''}
  ${renderParameters(op.parameters ?? [])}
  ${body}
  <ul class="r">${responses.join('')}</ul>
</section>`;
}

/** A self-contained HTML reference of the document: no CDN, no script, works behind a school's CSP. */
export function renderDocsPage(doc: ReturnType<typeof buildOpenApi>): string {
  const ops: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {}))
    for (const [method, op] of Object.entries(item as Record<string, Operation>))
      ops.push(renderOperation(method, path, op));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(doc.info.title)} — reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1b1f24}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f6f8;padding:.75rem;overflow:auto}
.op{border-top:1px solid #d8dee4;padding:.5rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:700}
.get{color:#0a7}.post{color:#06c}.put{color:#a60}.delete{color:#c22}.patch{color:#729}
table{border-collapse:collapse}td,th{border:1px solid #d8dee4;padding:.2rem .5rem;text-align:left}
</style></head><body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${escapeHtml(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>.</p>
${ops.join('\n')}
</body></html>`;
}
