import type { Store } from '../src/db/store.js';
import { findPlatformsForLogin, platformFrameOrigins } from '../src/domain/platforms.js';
import type { RegistryCache } from './registry-cache.js';
import { LtiError } from './errors.js';
import { toolKeysFor } from './session.js';
import { createState, randomToken } from './state.js';

/**
 * OIDC third-party login initiation (LTI 1.3 §5.1.1 / Security Framework §5.1.1): checks the
 * parameters, mints a signed single-use state with its nonce (no database write: lti/state.ts), and builds the platform's auth request.
 */
export interface LoginParams {
  iss?: string;
  login_hint?: string;
  target_link_uri?: string;
  lti_message_hint?: string;
  client_id?: string;
  lti_deployment_id?: string;
  lti_storage_target?: string;
}

export interface LoginResult {
  authUrl: string;
  authOrigin: string;
  state: string;
  nonce: string;
  browserSecret: string;
  storageTarget: string | null;
  /**
   * Where the login page may be framed: the origins of the registrations holding the deployment the
   * request names; null without a deployment hint (an issuer's client id may serve several schools,
   * whose places must not be listed to whoever asks).
   */
  frameOrigins: string[] | null;
}

const MAX = 4096;
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= MAX ? v : undefined);

export async function startLogin(
  store: Store,
  params: LoginParams,
  publicUrl: string,
  registry?: RegistryCache,
): Promise<LoginResult> {
  const iss = str(params.iss);
  const loginHint = str(params.login_hint);
  const target = str(params.target_link_uri);
  if (!iss) throw new LtiError('login', 'The login request has no issuer (iss)');
  if (!loginHint) throw new LtiError('login', 'The login request has no login_hint');
  if (!target) throw new LtiError('login', 'The login request has no target_link_uri');
  // Only our own launch URL: an open redirect through target_link_uri is not on offer.
  let targetUrl: URL;
  try {
    targetUrl = new URL(target);
  } catch {
    throw new LtiError('login', 'target_link_uri is not a URL');
  }
  if (targetUrl.origin !== new URL(publicUrl).origin)
    throw new LtiError('target_link_uri', 'target_link_uri does not point at this tool');

  const clientId = str(params.client_id);
  const platforms = registry
    ? await registry.forLogin(iss, clientId)
    : await findPlatformsForLogin(store, iss, clientId);
  if (platforms.length === 0) throw new LtiError('platform', 'This platform is not registered with this tool', 400);
  const clientIds = new Set(platforms.map((p) => p.clientId));
  if (clientIds.size > 1)
    throw new LtiError('platform', 'The login request must name its client_id: this issuer has several registrations');
  const platform = platforms[0];
  const deploymentHint = str(params.lti_deployment_id) ?? null;
  if (deploymentHint && !platforms.some((p) => p.deploymentIds.includes(deploymentHint))) {
    throw new LtiError('deployment', 'This deployment is not registered with any school here', 403);
  }
  const storageTarget = str(params.lti_storage_target) ?? null;
  const authUrl = new URL(platform.authLoginUrl);
  const nonce = randomToken();
  const { state, browserSecret } = await createState(toolKeysFor(store), {
    nonce,
    issuer: iss,
    clientId: platform.clientId,
    deploymentHint,
    targetLinkUri: target,
    storageTarget,
    authOrigin: authUrl.origin,
  });
  const q = authUrl.searchParams;
  q.set('scope', 'openid');
  q.set('response_type', 'id_token');
  q.set('response_mode', 'form_post');
  q.set('prompt', 'none');
  q.set('client_id', platform.clientId);
  q.set('redirect_uri', `${publicUrl}/lti/launch`);
  q.set('login_hint', loginHint);
  if (str(params.lti_message_hint)) q.set('lti_message_hint', params.lti_message_hint!);
  q.set('state', state);
  q.set('nonce', nonce);
  const frameOrigins = deploymentHint
    ? [...new Set(platforms.filter((p) => p.deploymentIds.includes(deploymentHint)).flatMap(platformFrameOrigins))]
    : null;
  return {
    authUrl: authUrl.toString(),
    authOrigin: authUrl.origin,
    state,
    nonce,
    browserSecret,
    storageTarget,
    frameOrigins,
  };
}
