import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { scimClient, startScim } from './client.js';

/**
 * The request shapes Entra ID, Okta and OneLogin send, replayed in order from the project's own
 * fixtures (test/fixtures/scim/*.json, written from each vendor's documentation). Each step names
 * the status it needs and, optionally, parts of the response that must match or be absent.
 */
interface Step {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  status: number | number[];
  save?: Record<string, string>;
  expect?: unknown;
  absent?: string[];
}
const load = (vendor: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/scim/${vendor}.json`, import.meta.url), 'utf8')) as {
    vendor: string;
    steps: Step[];
  };

let server: TestServer;
beforeAll(async () => {
  ({ server } = await startScim());
});
afterAll(async () => server?.close());

describe.each(['entra', 'okta', 'onelogin'])('%s request shapes', (name) => {
  const fixture = load(name);
  it(`runs ${fixture.vendor}'s provisioning sequence unchanged`, async () => {
    const c = await scimClient(server);
    const vars: Record<string, string> = {};
    const fill = <T>(v: T): T =>
      JSON.parse(JSON.stringify(v).replace(/\{\{(\w+)\}\}/g, (m, k: string) => vars[k] ?? m));
    for (const step of fixture.steps) {
      const r = await c.req(step.method, fill(step.path), step.body === undefined ? undefined : fill(step.body));
      const allowed = Array.isArray(step.status) ? step.status : [step.status];
      expect(allowed, `${step.name}: got ${r.status} ${JSON.stringify(r.body)}`).toContain(r.status);
      if (step.expect) expect(r.body, step.name).toMatchObject(fill(step.expect) as object);
      for (const key of step.absent ?? []) expect(r.body?.[key], `${step.name}: ${key} must be absent`).toBeUndefined();
      for (const [k, field] of Object.entries(step.save ?? {})) vars[k] = r.body[field];
    }
  });
});
