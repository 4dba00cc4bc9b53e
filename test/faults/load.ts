import { randomUUID } from 'node:crypto';
import { LTI_CLAIM, runLaunch, type PlatformEmulator } from '../support/platform-emulator.js';

/**
 * Mixed load for fault tests: SCIM creates, PATCHes, groups with members and Bulk, grants made by
 * a course admin, and LTI launches, each worker in its own loop. It records every write the
 * service acknowledged with a 2xx (what must survive any fault) and what it saw go wrong: a 5xx
 * other than 503, a 503 without Retry-After, the slowest failure.
 */
export interface Target {
  url: () => string;
  scimToken: string;
  adminToken: string;
  courseId: string;
  emu: PlatformEmulator;
  deploymentId: string;
}

export interface Ledger {
  requests: number;
  statuses: Record<string, number>;
  /** Requests that never got an answer (the service process was gone). */
  unanswered: number;
  anomalies: string[];
  slowestFailureMs: number;
  users: Map<string, { id: string; displayName: string | null; pending: Set<string> }>;
  groups: Map<string, string[]>;
  grants: Set<string>;
  launches: Set<string>;
}

export function newLedger(): Ledger {
  return {
    requests: 0,
    statuses: {},
    unanswered: 0,
    anomalies: [],
    slowestFailureMs: 0,
    users: new Map(),
    groups: new Map(),
    grants: new Set(),
    launches: new Set(),
  };
}

const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

export async function runLoad(target: Target, ledger: Ledger, until: () => boolean): Promise<void> {
  const call = async (path: string, init: RequestInit, token: string): Promise<Response | null> => {
    const started = Date.now();
    ledger.requests++;
    try {
      const res = await fetch(`${target.url()}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
        signal: AbortSignal.timeout(30_000),
      });
      note(ledger, res, `${init.method ?? 'GET'} ${path}`, Date.now() - started);
      return res;
    } catch {
      ledger.unanswered++;
      return null;
    }
  };
  const scim = (path: string, method: string, body: unknown) =>
    call(`/scim/v2${path}`, { method, body: JSON.stringify(body) }, target.scimToken);
  const pause = () => new Promise((r) => setTimeout(r, 20));

  const creator = async () => {
    while (!until()) {
      const userName = `load-${randomUUID()}@school.example`;
      const res = await scim('/Users', 'POST', { schemas: [SCIM_USER], userName });
      if (res?.status === 201) {
        const { id } = (await res.json()) as { id: string };
        ledger.users.set(userName, { id, displayName: null, pending: new Set() });
      } else await res?.body?.cancel();
      await pause();
    }
  };
  const patcher = async () => {
    let n = 0;
    while (!until()) {
      const known = [...ledger.users.values()];
      if (known.length === 0) {
        await pause();
        continue;
      }
      const user = known[n++ % known.length];
      const value = `name-${n}`;
      user.pending.add(value);
      const res = await scim(`/Users/${user.id}`, 'PATCH', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value }],
      });
      if (res && res.status < 300) {
        user.displayName = value;
        user.pending.clear();
      }
      await res?.body?.cancel();
      if (n % 3 === 0 && known.length >= 3) {
        const members = known.slice(-3).map((u) => u.id);
        const g = await scim('/Groups', 'POST', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: `group-${randomUUID()}`,
          members: members.map((value) => ({ value })),
        });
        if (g?.status === 201) ledger.groups.set(((await g.json()) as { id: string }).id, members.sort());
        else await g?.body?.cancel();
      }
      await pause();
    }
  };
  const granter = async () => {
    let n = 0;
    while (!until()) {
      n++;
      const email = `grant-${randomUUID()}@school.example`;
      const res = await call(
        `/api/v1/courses/${target.courseId}/privileges/email:${email}`,
        { method: 'PUT', body: JSON.stringify({ allow: ['grades.view'], deny: [] }) },
        target.adminToken,
      );
      if (res && res.status < 300) ledger.grants.add(email);
      await res?.body?.cancel();
      if (n % 4 === 0) {
        const names = [0, 1, 2].map(() => `bulk-${randomUUID()}@school.example`);
        const bulk = await scim('/Bulk', 'POST', {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
          Operations: names.map((userName, i) => ({
            method: 'POST',
            path: '/Users',
            bulkId: `u${i}`,
            data: { schemas: [SCIM_USER], userName },
          })),
        });
        if (bulk?.status === 200) {
          const out = (await bulk.json()) as { Operations: Array<{ status: string; location?: string }> };
          out.Operations.forEach((op, i) => {
            if (op.status === '201') {
              const id = op.location?.split('/').pop() ?? '';
              ledger.users.set(names[i], { id, displayName: null, pending: new Set() });
            }
          });
        } else await bulk?.body?.cancel();
      }
      await pause();
    }
  };
  const launcher = async () => {
    while (!until()) {
      const sub = `lms-${randomUUID()}`;
      try {
        ledger.requests++;
        const r = await runLaunch(
          target.emu,
          {
            payload: {
              sub,
              [`${LTI_CLAIM}message_type`]: 'LtiResourceLinkRequest',
              [`${LTI_CLAIM}version`]: '1.3.0',
              [`${LTI_CLAIM}deployment_id`]: target.deploymentId,
              [`${LTI_CLAIM}target_link_uri`]: `${target.url()}/lti/launch`,
              [`${LTI_CLAIM}resource_link`]: { id: 'rl-1' },
              [`${LTI_CLAIM}roles`]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
              [`${LTI_CLAIM}context`]: { id: 'ctx-load', title: 'Load' },
              name: 'Load Learner',
            },
          },
          { toolUrl: target.url() },
        );
        const last = r.launch ?? r.auth ?? r.login;
        note(ledger, last, 'LTI launch', 0);
        if (r.launch?.status === 303) ledger.launches.add(sub);
      } catch {
        ledger.unanswered++;
      }
      await pause();
    }
  };
  await Promise.all([creator(), patcher(), granter(), launcher()]);
}

function note(ledger: Ledger, res: Response, what: string, ms: number) {
  ledger.statuses[res.status] = (ledger.statuses[res.status] ?? 0) + 1;
  if (res.status >= 500) {
    ledger.slowestFailureMs = Math.max(ledger.slowestFailureMs, ms);
    if (res.status !== 503) ledger.anomalies.push(`${what}: ${res.status}`);
    else if (!res.headers.get('retry-after')) ledger.anomalies.push(`${what}: 503 without Retry-After`);
  }
}
