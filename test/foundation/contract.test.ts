import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { backendName } from '../support/db.js';
import { apiClient, privilegesHarness } from '../privileges/helpers.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** The app without a database: enough to list its routes and serve the document. */
function appWithoutDatabase() {
  return createApp({
    config: loadConfig({ LOG_LEVEL: 'silent' }),
    store: {} as never,
    logger: pino({ level: 'silent' }),
    readiness: async () => ({ ready: true, checks: { database: 'ok', migrations: 'ok' } }),
  });
}

describe('the API contract (one document from the route contracts)', () => {
  const app = appWithoutDatabase();
  let doc: any;
  beforeAll(async () => {
    doc = await (await app.request('/openapi.json')).json();
  });

  it('is a structurally valid OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      expect(path).toMatch(/^\//);
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries<any>(item)) {
        expect(METHODS, `${method} ${path}`).toContain(method);
        expect(op.summary, `${method} ${path} has a summary`).toBeTruthy();
        expect(Object.keys(op.responses).length, `${method} ${path} has responses`).toBeGreaterThan(0);
        for (const [code, r] of Object.entries<any>(op.responses)) {
          expect(code).toMatch(/^[1-5]\d\d$|^default$/);
          expect(r.description, `${method} ${path} ${code}`).toEqual(expect.any(String));
        }
        const inPath = (op.parameters ?? []).filter((p: any) => p.in === 'path');
        for (const p of inPath) expect(p.required).toBe(true);
        expect(inPath.map((p: any) => p.name).sort(), `${method} ${path} declares its path parameters`).toEqual(
          templated,
        );
      }
    }
    // Every $ref points at a component that exists.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    for (const name of refs) expect(doc.components.schemas, name).toHaveProperty(name);
  });

  it('describes every /api/v1 route the app serves (a route without a contract fails here)', () => {
    const served = new Set(
      app.routes
        .filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'ALL')
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([^/]+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries<any>(doc.paths)
        .filter(([path]) => path.startsWith('/api/v1/'))
        .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`)),
    );
    expect(served.size).toBeGreaterThan(25);
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.has(r))).toEqual([]);
  });

  it('describes the SCIM and LTI endpoints too', () => {
    expect(Object.keys(doc.paths['/scim/v2/Users'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(doc.paths['/scim/v2/Users/{id}'])).toEqual(
      expect.arrayContaining(['get', 'put', 'patch', 'delete']),
    );
    expect(doc.paths['/scim/v2/Bulk'].post.summary).toBeTruthy();
    expect(doc.paths['/lti/launch'].post.requestBody.content).toHaveProperty('application/x-www-form-urlencoded');
    expect(doc.paths['/lti/jwks'].get.security).toEqual([]);
  });

  it('uses the domain schemas for request bodies', () => {
    const body = doc.paths['/api/v1/courses'].post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['title']);
    expect(Object.keys(body.properties)).toEqual(['title', 'externalKey']);
  });

  it('/docs lists SCIM and LTI operations next to the API', async () => {
    const html = await (await app.request('/docs')).text();
    for (const path of ['/api/v1/authorize', '/scim/v2/Users', '/lti/launch']) expect(html).toContain(path);
  });
});

describe('GET / (landing page)', () => {
  const app = appWithoutDatabase();

  it('answers a small HTML page with links to the docs, health and the app', async () => {
    const res = await app.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html><html lang="en">/);
    expect(html).toContain('<title>Rosterbridge</title>');
    expect(html).toContain('<h1>Rosterbridge</h1>');
    for (const href of ['/docs', '/openapi.json', '/healthz', '/app/welcome']) expect(html).toContain(`href="${href}"`);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });
});

describe(`contract validation keeps the problem JSON (${backendName})`, () => {
  let h: Awaited<ReturnType<typeof privilegesHarness>>;
  beforeAll(async () => {
    h = await privilegesHarness();
  });
  afterAll(() => h.close());

  it('a body failing the schema is 400 validation_failed naming the field', async () => {
    const r = await h.api.post('/courses', { title: '', extra: 1 });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ type: 'about:blank', title: 'validation_failed', status: 400 });
    expect(r.body.detail).toContain('title: title must not be empty');
    expect(r.body.issues).toEqual(expect.arrayContaining([{ path: 'title', message: 'title must not be empty' }]));
  });

  it('a bad query parameter is refused the same way', async () => {
    const r = await h.api.get('/people?after=nope');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ title: 'validation_failed', detail: 'after: a cursor from `next`' });
  });

  it('/authorize parses its body with its contract', async () => {
    const r = await h.api.post('/authorize', { course: 'c', person: 7 });
    expect(r.status).toBe(400);
    expect(r.body.title).toBe('validation_failed');
    expect(r.body.detail).toMatch(/person: /);
    expect(r.body.detail).toMatch(/privilege: /);
  });

  it('authentication still comes before validation', async () => {
    const r = await apiClient(h.server, 'rb_admin_nope').post('/courses', { title: '' });
    expect(r.status).toBe(401);
  });
});
