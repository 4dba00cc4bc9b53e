import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { BadRequestError } from '../errors.js';

/**
 * Where a webhook may be sent: never to this machine, its private networks or link-local
 * addresses (cloud metadata lives at 169.254.169.254) unless the operator allows it
 * (WEBHOOK_ALLOW_PRIVATE_TARGETS). Checked when an endpoint is registered, on every address its
 * name resolves to, and again on the address each delivery actually connects to (DNS can change).
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** Whether an IP address is loopback, private, link-local or otherwise not on the public internet. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1], 'ipv4');
  return blocked.check(address, 'ipv6');
}

export class WebhookTargetError extends BadRequestError {}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
}

/** Parses and checks an endpoint URL; throws a 400-shaped error naming why it is refused. */
export async function checkWebhookTarget(raw: string, allowPrivate: boolean): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('url must be an absolute http:// or https:// URL', { details: { field: 'url' } });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new WebhookTargetError('url must be an http:// or https:// URL', { details: { field: 'url' } });
  if (url.username || url.password)
    throw new WebhookTargetError('url must not carry credentials', { details: { field: 'url' } });
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolveAll(host)).map((a) => a.address);
    } catch {
      throw new WebhookTargetError(`url host ${host} does not resolve`, { details: { field: 'url' } });
    }
  }
  const refused = addresses.filter(isPrivateAddress);
  if (refused.length || addresses.length === 0)
    throw new WebhookTargetError(
      `url host ${host} resolves to a loopback, private or link-local address (${refused.join(', ')}); webhooks go to public addresses only`,
      { details: { field: 'url' } },
    );
  return url;
}

/**
 * A `lookup` for http.request that refuses private addresses at connect time, so a name that
 * resolved to a public address when the endpoint was registered cannot be pointed inward later.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const ok = allowPrivate ? addresses : addresses.filter((a) => !isPrivateAddress(a.address));
      if (!ok.length) {
        const e = new Error(`${hostname} resolves to a private address only`) as NodeJS.ErrnoException;
        e.code = 'EPRIVATEADDRESS';
        return callback(e, []);
      }
      if ((options as { all?: boolean }).all) return callback(null, ok);
      callback(null, ok[0].address, ok[0].family);
    });
  };
}
