/**
 * The OpenAPI 3.1 document is assembled from fragments that each route module exports next to its
 * handlers, so the document and the code change together.
 */
export type PathItems = Record<string, Record<string, unknown>>;

export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

export function buildOpenApi(publicUrl: string, fragments: PathItems[]) {
  const paths: PathItems = {};
  for (const f of fragments) for (const [p, item] of Object.entries(f)) paths[p] = { ...paths[p], ...item };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Rosterbridge API',
      version: '0.1.0',
      description:
        'Tenant administration, courses, people and privileges. SCIM 2.0 lives under /scim/v2 and LTI 1.3 under /lti.',
    },
    servers: [{ url: publicUrl }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A tenant API token (rb_admin_… or rb_scim_…)' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['title', 'status', 'detail'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string', description: 'stable error code' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            requestId: { type: 'string' },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A self-contained HTML reference of the document: no CDN, no script, works behind a school's CSP. */
export function renderDocsPage(doc: ReturnType<typeof buildOpenApi>): string {
  const ops: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item) as Array<
      [
        string,
        { summary?: string; description?: string; parameters?: unknown; requestBody?: unknown; responses?: unknown },
      ]
    >) {
      const params = (op.parameters ?? []) as Array<{
        name: string;
        in: string;
        required?: boolean;
        description?: string;
      }>;
      const responses = Object.entries((op.responses ?? {}) as Record<string, { description?: string }>);
      ops.push(`<section class="op" id="${escapeHtml(method + path)}">
  <h3><span class="m ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>
  <p>${escapeHtml(op.summary ?? '')}</p>${op.description ? `\n  <p class="d">${escapeHtml(op.description)}</p>` : ''}
  ${params.length ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>description</th></tr>${params.map((p) => `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml(p.description ?? '')}</td></tr>`).join('')}</table>` : ''}
  ${op.requestBody ? `<details><summary>request body</summary><pre>${escapeHtml(JSON.stringify(op.requestBody, null, 2))}</pre></details>` : ''}
  <ul class="r">${responses.map(([code, r]) => `<li><b>${escapeHtml(code)}</b> ${escapeHtml(r.description ?? '')}</li>`).join('')}</ul>
</section>`);
    }
  }
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
