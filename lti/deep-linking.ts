import { SignJWT } from 'jose';
import type { DeepLinkingSettings } from './claims.js';
import { CLAIM } from './claims.js';
import type { SigningKey } from './keys.js';
import { randomToken } from './state.js';

/**
 * Deep Linking 2.0 response (LTI-NOTES §3.2): one ltiResourceLink to this tool when the platform
 * accepts that type, otherwise an empty list (= cancel) with a message. `data` is echoed exactly.
 */
export interface DeepLinkResponseInput {
  key: SigningKey;
  clientId: string;
  platformIssuer: string;
  deploymentId: string;
  settings: DeepLinkingSettings;
  launchUrl: string;
  title?: string;
}

export interface ContentItem {
  type: 'ltiResourceLink';
  title: string;
  url: string;
}

export function contentItemsFor(settings: DeepLinkingSettings, launchUrl: string, title: string): ContentItem[] {
  if (!settings.accept_types.includes('ltiResourceLink')) return [];
  return [{ type: 'ltiResourceLink', title, url: launchUrl }];
}

export async function signDeepLinkingResponse(
  input: DeepLinkResponseInput,
): Promise<{ jwt: string; items: ContentItem[] }> {
  const title = input.title ?? 'Rosterbridge — course privileges';
  const items = contentItemsFor(input.settings, input.launchUrl, title);
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    nonce: randomToken(16),
    [CLAIM.deploymentId]: input.deploymentId,
    [CLAIM.messageType]: 'LtiDeepLinkingResponse',
    [CLAIM.version]: '1.3.0',
    [CLAIM.contentItems]: items,
  };
  if (input.settings.data !== undefined) payload[CLAIM.dlData] = input.settings.data;
  if (items.length === 0)
    payload['https://purl.imsglobal.org/spec/lti-dl/claim/errormsg'] =
      'This tool offers only LTI resource links, which this placement does not accept.';
  else payload[CLAIM.dlMsg] = `Added ${title}`;
  const jwt = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', kid: input.key.kid, typ: 'JWT' })
    .setIssuer(input.clientId)
    .setAudience(input.platformIssuer)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(input.key.privateKey);
  return { jwt, items };
}
