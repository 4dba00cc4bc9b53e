import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LTI_CLAIM, type LaunchSpec } from '../support/platform-emulator.js';

/** The 1EdTech certification cases in ../shared (read in place, never copied): loading and replay spec. */
export const CERT_DIR = fileURLToPath(new URL('../../../shared/conformance/lti-certification', import.meta.url));

export interface CertCase {
  kind: 'valid' | 'invalid';
  name: string;
  payload: Record<string, unknown>;
  header?: Record<string, unknown>;
  keep?: string[];
}

export function loadCertCases(dir = CERT_DIR): CertCase[] {
  const out: CertCase[] = [];
  for (const kind of ['valid', 'invalid'] as const) {
    for (const name of readdirSync(`${dir}/${kind}`).sort()) {
      const read = (f: string) =>
        existsSync(`${dir}/${kind}/${name}/${f}`)
          ? JSON.parse(readFileSync(`${dir}/${kind}/${name}/${f}`, 'utf8'))
          : undefined;
      out.push({ kind, name, payload: read('payload.json'), header: read('header.json'), keep: read('keep.json') });
    }
  }
  return out;
}

/** The launch the certification suite would make against this tool. */
export function certSpec(c: CertCase, toolUrl: string): LaunchSpec {
  const payload = { ...c.payload };
  if (`${LTI_CLAIM}target_link_uri` in payload) payload[`${LTI_CLAIM}target_link_uri`] = `${toolUrl}/lti/launch`;
  // header.json replaces the default header (a missing or wrong kid is the point of those cases).
  return { payload, header: c.header, keep: c.keep, signing: 'rs256' };
}

/** The check each invalid case must fail on: rejected, and for the right reason. */
export const EXPECTED_CHECK: Record<string, string> = {
  'Correct KID Required in Header': 'kid',
  'Exp and Iat Fields invalid': 'exp',
  'Incorrect KID passed in JWT Header': 'kid',
  'JWT Passed is Not LTI 1.3 JWT': 'alg',
  'LTI version passed is not 1.3': 'version',
  'Launch Instructor With Email No Context': 'context',
  'Launch With Missing resource_link_id': 'resource_link',
  'No LTI Version Passed in JWT': 'version',
  'One or more JWT fields missing': 'version',
  'deployment_id Claim Missing': 'deployment',
  'message_type Claim Missing': 'message_type',
  'role Claim Missing': 'roles',
  'user Claim Missing': 'sub',
};
