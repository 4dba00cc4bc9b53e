import { request as httpRequest } from 'node:http';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { loadConfig } from '../../src/config.js';
import { backendName } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe(`HTTP surface (${backendName}, real socket)`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ BODY_LIMIT_BYTES: '1024' });
  });
  afterAll(() => s.close());

  it('/healthz answers while the process lives', async () => {
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 when the database answers and is migrated', async () => {
    const res = await fetch(`${s.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ready: true, checks: { database: 'ok', migrations: 'ok' } });
  });

  it('unknown paths get a JSON 404', async () => {
    const res = await fetch(`${s.url}/no/such/thing`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 404, title: 'not_found' });
  });

  it('a known path with the wrong method gets a JSON 405 with Allow', async () => {
    const res = await fetch(`${s.url}/healthz`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.json()).toMatchObject({ status: 405, title: 'method_not_allowed' });
  });

  it('a body over the limit is refused with 413 before it is read', async () => {
    const res = await fetch(`${s.url}/api/v1/tenant`, {
      method: 'POST',
      body: 'x'.repeat(2048),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ status: 413, title: 'payload_too_large' });
  });

  it('echoes a caller request id and makes one otherwise', async () => {
    const mine = await fetch(`${s.url}/healthz`, { headers: { 'x-request-id': 'lms-trace-42' } });
    expect(mine.headers.get('x-request-id')).toBe('lms-trace-42');
    const made = await fetch(`${s.url}/healthz`);
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const err = await fetch(`${s.url}/nope`, { headers: { 'x-request-id': 'trace-404' } });
    expect((await err.json()).requestId).toBe('trace-404');
  });

  it('/metrics exposes Prometheus metrics including request counts', async () => {
    await fetch(`${s.url}/healthz`);
    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/rosterbridge_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toContain('rosterbridge_process_cpu_seconds_total');
  });

  it('/openapi.json describes the API and /docs renders it without any external asset', async () => {
    const doc = await (await fetch(`${s.url}/openapi.json`)).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/v1/tenant'].get.responses).toHaveProperty('401');
    const html = await (await fetch(`${s.url}/docs`)).text();
    expect(html).toContain('/api/v1/tenant');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="https?:/);
  });
});

describe('body limit on streamed bodies', () => {
  it('a chunked body (no Content-Length) over the limit is cut off with 413 while it is read', async () => {
    const app = createApp({
      config: loadConfig({ BODY_LIMIT_BYTES: '1024', LOG_LEVEL: 'silent' }),
      store: {} as never, // this route never touches the database
      logger: pino({ level: 'silent' }),
      readiness: async () => ({ ready: true, checks: { database: 'ok', migrations: 'ok' } }),
    });
    app.post('/echo-length', async (c) => c.json({ length: (await c.req.text()).length }));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo-length`;
    const post = (chunks: number) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(url, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        for (let i = 0; i < chunks; i++) req.write('y'.repeat(512));
        req.end();
      });
    try {
      expect(await post(1)).toEqual({ status: 200, body: JSON.stringify({ length: 512 }) });
      const over = await post(4);
      expect(over.status).toBe(413);
      expect(JSON.parse(over.body)).toMatchObject({ title: 'payload_too_large' });
    } finally {
      server.close();
    }
  });
});
