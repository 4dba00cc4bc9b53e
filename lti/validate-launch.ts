import { verify as verifyRsa } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { Store } from '../src/db/store.js';
import { resolveDeployment, tenantClientIdsOfIssuer, type PlatformView } from '../src/domain/platforms.js';
import { CLAIM, MESSAGE_TYPES, type DeepLinkingSettings, type LaunchContextClaim, type MessageType } from './claims.js';
import { LtiError } from './errors.js';
import type { JwksCache } from './jwks-cache.js';
import type { RegistryCache } from './registry-cache.js';
import type { ToolKeys } from './keys.js';
import { toolKeysFor } from './session.js';
import { consumeState, keyObjectOf, openState, safeEqual, sha256, stateAlreadyUsed, type StateRow } from './state.js';

/**
 * Launch validation (LTI 1.3 §5.1.3 and the 1EdTech Security Framework §5.1.3) as a list of small
 * named steps, each checking one thing and throwing an LtiError that names the check. The order
 * matters only in that claims read before the signature step are used to *choose* the registration
 * and key, never trusted: the signature step then covers every one of them.
 */
export interface LaunchInput {
  idToken: unknown;
  state: unknown;
  /** The value of the state's browser-binding cookie, if the browser sent it. */
  browserSecret?: string;
}

export interface LaunchDeps {
  store: Store;
  jwks: JwksCache;
  /** Cached registry lookups (routes pass one); without it every launch reads the registry. */
  registry?: RegistryCache;
  /** The tool's keys (state MACs); default the store's shared ToolKeys. */
  keys?: ToolKeys;
  /** Allowed clock difference with the platform, seconds. */
  skewSeconds?: number;
  /** Oldest acceptable iat, seconds. */
  maxAgeSeconds?: number;
  now?: () => number;
}

export interface ValidatedLaunch {
  platform: PlatformView;
  claims: JWTPayload & Record<string, unknown>;
  messageType: MessageType;
  deploymentId: string;
  /** null for an anonymous launch (no sub) */
  sub: string | null;
  roles: string[];
  context: LaunchContextClaim | null;
  deepLinking: DeepLinkingSettings | null;
  /** false when the browser had no state cookie and must prove itself through platform storage */
  browserVerified: boolean;
  state: StateRow;
  stateValue: string;
}

interface Ctx {
  input: LaunchInput;
  deps: Required<Pick<LaunchDeps, 'skewSeconds' | 'maxAgeSeconds' | 'now' | 'keys'>> & LaunchDeps;
  idToken: string;
  stateValue: string;
  state: StateRow;
  browserVerified: boolean;
  header: ProtectedHeaderParameters;
  claims: JWTPayload & Record<string, unknown>;
  platform: PlatformView;
  deploymentId: string;
  messageType: MessageType;
  sub: string | null;
  roles: string[];
  context: LaunchContextClaim | null;
  deepLinking: DeepLinkingSettings | null;
}

type Step = (ctx: Ctx) => void | Promise<void>;

const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const requireFormFields: Step = (ctx) => {
  const { idToken, state } = ctx.input;
  if (!isNonEmptyString(idToken) || idToken.length > 64 * 1024)
    throw new LtiError('request', 'The launch has no id_token');
  if (!isNonEmptyString(state) || state.length > 16 * 1024) throw new LtiError('request', 'The launch has no state');
  ctx.idToken = idToken;
  ctx.stateValue = state;
};

const replayed = () => new LtiError('state', 'This launch was already used (state replayed)');

/** Opens the signed state (no database read: docs/decisions/0008); single use is settled at the end. */
const loadLoginState: Step = async (ctx) => {
  const row = await openState(ctx.deps.keys, ctx.stateValue);
  if (!row) throw new LtiError('state', 'This launch does not belong to a login this tool started (unknown state)');
  if (row.expires_at <= ctx.deps.now())
    throw new LtiError('state', 'The login expired before the launch arrived; launch again');
  ctx.state = row;
};

const checkBrowserBinding: Step = async (ctx) => {
  const secret = ctx.input.browserSecret;
  if (secret !== undefined) {
    if (!safeEqual(sha256(secret), ctx.state.browser_hash))
      throw new LtiError('browser', 'The launch did not come from the browser that started the login');
    ctx.browserVerified = true;
    return;
  }
  // No cookie: allowed only where the platform offered client-side storage, and then the page must
  // prove the state through it before a session is issued (see routes: /lti/launch/confirm).
  if (!ctx.state.storage_target) {
    // The launch deletes the state cookie, so a replay from the same browser arrives without one:
    // name it as the replay it is (one read, on this refusal path only).
    if (await stateAlreadyUsed(ctx.deps.store, ctx.state)) throw replayed();
    throw new LtiError(
      'browser',
      'Your browser blocked the login cookie and the platform offers no storage; open the tool in a new window',
    );
  }
  ctx.browserVerified = false;
};

const decodeToken: Step = (ctx) => {
  try {
    ctx.header = decodeProtectedHeader(ctx.idToken);
    ctx.claims = decodeJwt(ctx.idToken) as Ctx['claims'];
  } catch (err) {
    throw new LtiError('jwt', 'The id_token is not a signed JWT', 400, { cause: err });
  }
};

const checkAlg: Step = (ctx) => {
  if (ctx.header.alg !== 'RS256')
    throw new LtiError('alg', `The id_token must be signed with RS256, not ${JSON.stringify(ctx.header.alg ?? null)}`);
};

const checkKid: Step = (ctx) => {
  if (!isNonEmptyString(ctx.header.kid)) throw new LtiError('kid', 'The id_token header has no kid');
};

const checkIssuer: Step = (ctx) => {
  if (ctx.claims.iss !== ctx.state.issuer)
    throw new LtiError('iss', 'The id_token was issued by another platform than the one that started the login');
};

const resolveTenantDeployment: Step = async (ctx) => {
  const deploymentId = ctx.claims[CLAIM.deploymentId];
  if (!isNonEmptyString(deploymentId)) throw new LtiError('deployment', 'The launch has no deployment_id');
  if (ctx.state.deployment_hint && ctx.state.deployment_hint !== deploymentId) {
    throw new LtiError('deployment', 'The launch names another deployment than its login');
  }
  const platform = ctx.deps.registry
    ? await ctx.deps.registry.deployment(ctx.state.issuer, ctx.state.client_id, deploymentId)
    : await resolveDeployment(ctx.deps.store, ctx.state.issuer, ctx.state.client_id, deploymentId);
  if (!platform) throw new LtiError('deployment', 'This deployment is not registered with any school here', 403);
  ctx.platform = platform;
  ctx.deploymentId = deploymentId;
};

/**
 * RS256 over the token's first two segments exactly as sent (RFC 7515 §5.2), checked synchronously
 * by node:crypto: WebCrypto's verify (jose's compactVerify) costs ~0.3 ms of main-thread CPU per
 * call on Node 20 (docs/decisions/0008). checkAlg already pinned RS256; decodeToken parsed the
 * header and payload the signature covers. No JWS extension is supported, so a `crit` header is
 * refused (RFC 7515 §4.1.11), as jose would.
 */
const verifySignature: Step = async (ctx) => {
  const key = await ctx.deps.jwks.key(ctx.platform.jwksUrl, ctx.header.kid!);
  const refuse = (cause?: unknown) =>
    new LtiError('signature', 'The id_token signature does not verify with the platform key', 400, { cause });
  if (ctx.header.crit !== undefined) throw refuse(new Error('unsupported crit header'));
  const parts = ctx.idToken.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[2])) throw refuse(new Error('not a compact JWS'));
  const publicKey = keyObjectOf(key);
  // As jose: RS256 keys shorter than 2048 bits are refused (RFC 7518 §3.3).
  if ((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    throw refuse(new Error('RSA key shorter than 2048 bits'));
  let ok: boolean;
  try {
    ok = verifyRsa('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, Buffer.from(parts[2], 'base64url'));
  } catch (err) {
    throw refuse(err);
  }
  if (!ok) throw refuse();
};

const checkAudience: Step = async (ctx) => {
  const clientId = ctx.state.client_id;
  const aud = ctx.claims.aud;
  const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!list.includes(clientId)) throw new LtiError('aud', 'The id_token is not addressed to this tool (aud)');
  const extras = list.filter((a) => a !== clientId);
  if (extras.length > 0) {
    // OIDC Core §3.1.3.7: extra audiences must be ones we trust — here, this tenant's other
    // registrations of the same issuer.
    const ok = await tenantClientIdsOfIssuer(ctx.deps.store, ctx.platform.tenantId, ctx.platform.issuer);
    const untrusted = extras.filter((a) => typeof a !== 'string' || !ok.has(a));
    if (untrusted.length)
      throw new LtiError('aud', 'The id_token is also addressed to an audience this tool does not trust');
  }
  const azp = ctx.claims.azp;
  if (list.length > 1 && azp === undefined)
    throw new LtiError('azp', 'An id_token with several audiences must name its authorized party (azp)');
  if (azp !== undefined && azp !== clientId)
    throw new LtiError('azp', 'The id_token was authorized for another client (azp)');
};

const MAX_ID_TOKEN_LIFETIME_SECONDS = 24 * 3600;

const checkExpiry: Step = (ctx) => {
  const now = ctx.deps.now() / 1000;
  const exp = ctx.claims.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new LtiError('exp', 'The id_token has no expiry (exp)');
  if (now > exp + ctx.deps.skewSeconds) throw new LtiError('exp', 'The id_token has expired');
  // Launch tokens live minutes; a far-future expiry is forged or broken (and would overflow the nonce's retention date).
  if (exp > now + MAX_ID_TOKEN_LIFETIME_SECONDS)
    throw new LtiError('exp', 'The id_token expires implausibly far in the future');
};

const checkIssuedAt: Step = (ctx) => {
  const now = ctx.deps.now() / 1000;
  const iat = ctx.claims.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat))
    throw new LtiError('iat', 'The id_token has no issue time (iat)');
  if (iat > now + ctx.deps.skewSeconds)
    throw new LtiError('iat', 'The id_token was issued in the future (check the platform clock)');
  if (now - iat > ctx.deps.maxAgeSeconds) throw new LtiError('iat', 'The id_token is too old');
};

const checkNonce: Step = (ctx) => {
  const nonce = ctx.claims.nonce;
  if (!isNonEmptyString(nonce) || !safeEqual(nonce, ctx.state.nonce)) {
    throw new LtiError('nonce', 'The id_token nonce is not the one this tool issued at login');
  }
};

const checkVersion: Step = (ctx) => {
  if (ctx.claims[CLAIM.version] !== '1.3.0') throw new LtiError('version', 'The launch is not LTI version 1.3.0');
};

const checkMessageType: Step = (ctx) => {
  const t = ctx.claims[CLAIM.messageType];
  if (!MESSAGE_TYPES.includes(t as MessageType))
    throw new LtiError('message_type', `Unsupported LTI message type ${JSON.stringify(t ?? null)}`);
  ctx.messageType = t as MessageType;
};

const checkTargetLinkUri: Step = (ctx) => {
  const t = ctx.claims[CLAIM.targetLinkUri];
  if (t === undefined && ctx.messageType === 'LtiDeepLinkingRequest') return;
  if (!isNonEmptyString(t)) throw new LtiError('target_link_uri', 'The launch has no target_link_uri');
  if (!safeEqual(sha256(t), ctx.state.target_hash))
    throw new LtiError('target_link_uri', 'The launch target differs from the one its login asked for');
};

const checkResourceLink: Step = (ctx) => {
  if (ctx.messageType !== 'LtiResourceLinkRequest') return;
  const rl = ctx.claims[CLAIM.resourceLink];
  if (!isObject(rl) || !isNonEmptyString(rl.id))
    throw new LtiError('resource_link', 'A resource link launch must carry resource_link.id');
};

const checkContext: Step = (ctx) => {
  const c = ctx.claims[CLAIM.context];
  if (c === undefined && ctx.messageType === 'LtiDeepLinkingRequest') {
    ctx.context = null;
    return;
  }
  // A course privilege tool needs to know the course: a resource launch without context is refused.
  if (!isObject(c) || !isNonEmptyString(c.id) || c.id.length > 255)
    throw new LtiError('context', 'The launch does not say which course it comes from (context.id)');
  ctx.context = c as unknown as LaunchContextClaim;
};

const checkRoles: Step = (ctx) => {
  const roles = ctx.claims[CLAIM.roles];
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))
    throw new LtiError('roles', 'The launch has no roles claim');
  ctx.roles = roles as string[];
};

const checkSubject: Step = (ctx) => {
  if (!('sub' in ctx.claims) || ctx.claims.sub === undefined) {
    ctx.sub = null; // anonymous launch: allowed, matched to nobody
    return;
  }
  const sub = ctx.claims.sub;
  if (!isNonEmptyString(sub) || sub.length > 255)
    throw new LtiError('sub', 'The launch names an empty or invalid user (sub)');
  ctx.sub = sub;
};

const checkDeepLinkingSettings: Step = (ctx) => {
  if (ctx.messageType !== 'LtiDeepLinkingRequest') {
    ctx.deepLinking = null;
    return;
  }
  const s = ctx.claims[CLAIM.deepLinkingSettings];
  if (
    !isObject(s) ||
    !isNonEmptyString(s.deep_link_return_url) ||
    !/^https?:\/\//.test(s.deep_link_return_url) ||
    !Array.isArray(s.accept_types)
  ) {
    throw new LtiError('deep_linking', 'The deep linking request has no valid deep_linking_settings');
  }
  ctx.deepLinking = s as unknown as DeepLinkingSettings;
};

export const launchSteps: ReadonlyArray<readonly [string, Step]> = [
  ['requireFormFields', requireFormFields],
  ['loadLoginState', loadLoginState],
  ['checkBrowserBinding', checkBrowserBinding],
  ['decodeToken', decodeToken],
  ['checkAlg', checkAlg],
  ['checkKid', checkKid],
  ['checkIssuer', checkIssuer],
  ['resolveTenantDeployment', resolveTenantDeployment],
  ['verifySignature', verifySignature],
  ['checkAudience', checkAudience],
  ['checkExpiry', checkExpiry],
  ['checkIssuedAt', checkIssuedAt],
  ['checkNonce', checkNonce],
  ['checkVersion', checkVersion],
  ['checkMessageType', checkMessageType],
  ['checkTargetLinkUri', checkTargetLinkUri],
  ['checkResourceLink', checkResourceLink],
  ['checkContext', checkContext],
  ['checkRoles', checkRoles],
  ['checkSubject', checkSubject],
  ['checkDeepLinkingSettings', checkDeepLinkingSettings],
];

/** Nonces are remembered an hour beyond the token's expiry (and skew). */
export const nonceExpiry = (launch: ValidatedLaunch) =>
  new Date(((launch.claims.exp as number) + 60) * 1000 + 3600_000);

/**
 * The last check, run by the caller once every step above passed (so a forged token cannot burn a
 * genuine login): records the state's nonce, once. A launch that loses this race to another
 * request with the same state is a replay. (Resource link launches burn it inside their own single
 * statement instead: src/domain/launch-returning.ts.)
 */
export async function consumeLaunch(store: Store, launch: ValidatedLaunch): Promise<void> {
  if (!(await consumeState(store, launch.state, nonceExpiry(launch)))) throw replayed();
}

export async function validateLaunch(input: LaunchInput, deps: LaunchDeps): Promise<ValidatedLaunch> {
  const ctx = {
    input,
    deps: { skewSeconds: 60, maxAgeSeconds: 600, now: Date.now, keys: toolKeysFor(deps.store), ...deps },
  } as Ctx;
  for (const [, step] of launchSteps) await step(ctx);
  return {
    platform: ctx.platform,
    claims: ctx.claims,
    messageType: ctx.messageType,
    deploymentId: ctx.deploymentId,
    sub: ctx.sub,
    roles: ctx.roles,
    context: ctx.context,
    deepLinking: ctx.deepLinking,
    browserVerified: ctx.browserVerified,
    state: ctx.state,
    stateValue: ctx.stateValue,
  };
}
