import { z } from 'zod';
import type { ActorContext, Store } from '../src/db/store.js';
import { addPlatform, type PlatformView } from '../src/domain/platforms.js';
import {
  insertRegistrationLink,
  openRegistrationLinkTenant,
  useRegistrationLink,
} from '../src/domain/registration-links.js';
import { LtiError } from './errors.js';
import { randomToken, sha256 } from './state.js';

/**
 * LTI Dynamic Registration 1.0 (tool side). An admin prints a one-time link with
 * `platform register-link --tenant S`; the platform opens it with `openid_configuration` and
 * `registration_token`; we check the configuration's issuer against its URL, register ourselves,
 * and record platform + deployment for that tenant.
 */
const LINK_TTL_MS = 7 * 24 * 3600 * 1000;
const TOOL_CONFIG = 'https://purl.imsglobal.org/spec/lti-tool-configuration';
const PLATFORM_CONFIG = 'https://purl.imsglobal.org/spec/lti-platform-configuration';

export async function createRegistrationLink(
  store: Store,
  tenantId: string,
  publicUrl: string,
): Promise<{ url: string; expiresAt: Date }> {
  const token = randomToken();
  const expiresAt = new Date(Date.now() + LINK_TTL_MS);
  await insertRegistrationLink(store, sha256(token), tenantId, expiresAt);
  return { url: `${publicUrl}/lti/register?rb=${token}`, expiresAt };
}

const openidConfig = z.object({
  issuer: z.string().url(),
  authorization_endpoint: z.string().url(),
  token_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  registration_endpoint: z.string().url(),
  [PLATFORM_CONFIG]: z.object({ product_family_code: z.string().optional() }).passthrough().optional(),
});

const registrationResponse = z.object({
  client_id: z.string().min(1),
  [TOOL_CONFIG]: z
    .object({ deployment_id: z.string().min(1).optional() })
    .passthrough()
    .optional(),
});

async function getJson(url: string, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      ...init,
      signal: AbortSignal.timeout(10_000),
      headers: { accept: 'application/json', ...(init.headers ?? {}) },
    });
    text = await res.text();
  } catch (err) {
    throw new LtiError('registration', `The platform could not be reached at ${new URL(url).origin}`, 502, {
      cause: err,
    });
  }
  if (!res.ok)
    throw new LtiError('registration', `The platform answered ${res.status} at ${new URL(url).pathname}`, 502);
  try {
    return JSON.parse(text);
  } catch {
    throw new LtiError('registration', 'The platform answered with something other than JSON', 502);
  }
}

export async function completeRegistration(
  store: Store,
  ctx: ActorContext,
  publicUrl: string,
  params: { rb?: string; openid_configuration?: string; registration_token?: string },
): Promise<PlatformView> {
  if (!params.rb) throw new LtiError('registration', 'This registration link is incomplete; ask for a new one');
  if (!params.openid_configuration)
    throw new LtiError('registration', 'The platform did not send its openid_configuration');
  const tenantId = await openRegistrationLinkTenant(store, sha256(params.rb));
  if (!tenantId) throw new LtiError('registration', 'This registration link is unknown, expired or already used', 403);

  let configUrl: URL;
  try {
    configUrl = new URL(params.openid_configuration);
  } catch {
    throw new LtiError('registration', 'openid_configuration is not a URL');
  }
  const parsed = openidConfig.safeParse(await getJson(configUrl.toString()));
  if (!parsed.success) throw new LtiError('registration', 'The platform configuration lacks required fields');
  const cfg = parsed.data;
  // LTI DR §3.5.1: the issuer must match the configuration URL (same origin, and a path prefix).
  const iss = new URL(cfg.issuer);
  if (iss.origin !== configUrl.origin || !configUrl.pathname.startsWith(iss.pathname.replace(/\/$/, ''))) {
    throw new LtiError('registration', 'The platform configuration names an issuer that does not match its URL');
  }

  const host = new URL(publicUrl).host;
  const request = {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: `${publicUrl}/lti/login`,
    redirect_uris: [`${publicUrl}/lti/launch`],
    client_name: 'Rosterbridge',
    jwks_uri: `${publicUrl}/lti/jwks`,
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
    [TOOL_CONFIG]: {
      domain: host,
      target_link_uri: `${publicUrl}/lti/launch`,
      claims: ['iss', 'sub', 'name', 'given_name', 'family_name', 'email'],
      messages: [{ type: 'LtiDeepLinkingRequest', target_link_uri: `${publicUrl}/lti/launch`, label: 'Rosterbridge' }],
      custom_parameters: { sis_user_id: '$Canvas.user.sisIntegrationId' },
    },
  };
  const answer = registrationResponse.safeParse(
    await getJson(cfg.registration_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(params.registration_token ? { authorization: `Bearer ${params.registration_token}` } : {}),
      },
      body: JSON.stringify(request),
    }),
  );
  if (!answer.success) throw new LtiError('registration', 'The platform did not return a client_id');
  const deploymentId = answer.data[TOOL_CONFIG]?.deployment_id;
  if (!deploymentId)
    throw new LtiError(
      'registration',
      'The platform did not return a deployment_id; add it with `platform deployment add`',
    );

  const fresh = await useRegistrationLink(store, sha256(params.rb));
  if (!fresh) throw new LtiError('registration', 'This registration link was used by another registration', 403);
  return addPlatform(store, ctx, tenantId, {
    issuer: cfg.issuer,
    clientId: answer.data.client_id,
    deploymentId,
    authLoginUrl: cfg.authorization_endpoint,
    authTokenUrl: cfg.token_endpoint,
    jwksUrl: cfg.jwks_uri,
  });
}
