import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ENTRIES, clientAssets } from '../../src/web/assets.js';
import { contentSecurityPolicy, jsonForScript } from '../../src/web/html.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The shared page foundation: browser code is TypeScript bundled by esbuild and served from this
 * origin; pages load it under their CSP nonce and carry no inline code; data is JSON, never code.
 */
describe('page foundation', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  }, 120_000);
  afterAll(async () => server?.close());

  it('bundles every client entry into one self-contained script', async () => {
    const assets = await clientAssets();
    expect([...assets.keys()].sort()).toEqual([...CLIENT_ENTRIES].sort());
    for (const [name, a] of assets) {
      expect(a.code.length, name).toBeGreaterThan(50);
      expect(a.code, name).toMatch(/^(?:"use strict";)?\(\(\)=>\{/); // one IIFE
      expect(a.code, name).not.toMatch(/(?:^|[;}\n])\s*import\s*[{*"'\w]|\bimport\(|from\s*["']\.\.?\//); // no module loading left
    }
  });

  it('serves a bundle as JavaScript with a validator, and 404s anything else', async () => {
    const r = await fetch(`${server.url}/app/assets/welcome.js`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = r.headers.get('etag')!;
    expect((await fetch(`${server.url}/app/assets/welcome.js`, { headers: { 'if-none-match': etag } })).status).toBe(
      304,
    );
    expect((await fetch(`${server.url}/app/assets/session.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/app/assets/..%2Fhtml.js`)).status).toBe(404);
  });

  it('loads page code from the origin under the nonce, with no inline script or style allowance', async () => {
    const r = await fetch(`${server.url}/app/welcome`);
    const csp = r.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1];
    const html = await r.text();
    expect(html).toContain(`<script nonce="${nonce}" src="/app/assets/welcome.js"`);
    expect(csp).not.toContain('unsafe-inline');
    // the only inline script element is data
    const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)([^>]*)>/g)].map((m) => m[1]);
    expect(inline.every((attrs) => attrs.includes('type="application/json"'))).toBe(true);
  });

  it('keeps data inert inside the page', () => {
    const text = jsonForScript({ name: '</script><script>alert(1)</script>', line: '\u2028' });
    expect(text).not.toMatch(/<|>|\u2028/);
    expect(JSON.parse(text)).toEqual({ name: '</script><script>alert(1)</script>', line: '\u2028' });
  });

  it('names who may frame a page by origin, never a path or a wildcard unless asked', () => {
    const csp = contentSecurityPolicy({
      nonce: 'n',
      frameAncestors: ['https://lms.example/auth', 'not a url', 'javascript:alert(1)'],
    });
    expect(csp).toContain("frame-ancestors 'self' https://lms.example;");
    expect(contentSecurityPolicy({ frameAncestors: [] })).toContain("script-src 'none'");
  });
});
