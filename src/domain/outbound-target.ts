import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { BadRequestError } from '../errors.js';

/**
 * Where the service may send a request a tenant admin configured (webhook endpoints, a OneRoster
 * API): never to this machine, its private networks or link-local addresses (cloud metadata lives
 * at 169.254.169.254) unless the operator allows it (WEBHOOK_ALLOW_PRIVATE_TARGETS,
 * ONEROSTER_ALLOW_PRIVATE_TARGETS). Checked when the URL is configured, on every address its name
 * resolves to, and again on the address each request actually connects to (DNS can change).
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

/** A configured URL refused; `details.field` names the input field (`url`, `baseUrl`…). */
export class OutboundTargetError extends BadRequestError {}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
}

/** Parses and checks a configured URL; throws a 400-shaped error naming `field` and why it is refused. */
export async function checkOutboundTarget(raw: string, allowPrivate: boolean, field: string): Promise<URL> {
  const refuse = (why: string) => new OutboundTargetError(`${field} ${why}`, { details: { field } });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('must be an http:// or https:// URL');
  if (url.username || url.password) throw refuse('must not carry credentials');
  if (allowPrivate) return url;
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolveAll(host)).map((a) => a.address);
    } catch {
      throw refuse(`host ${host} does not resolve`);
    }
  }
  const refused = addresses.filter(isPrivateAddress);
  if (refused.length || addresses.length === 0)
    throw refuse(
      `host ${host} resolves to a loopback, private or link-local address (${refused.join(', ')}); only public addresses are allowed`,
    );
  return url;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/**
 * Why a request to `url` must not be made when its host is a private IP literal (no DNS lookup
 * happens for those, so guardedLookup never sees them), or null.
 */
export function refusedLiteral(url: URL, allowPrivate: boolean): string | null {
  const host = hostOf(url);
  return !allowPrivate && isIP(host) && isPrivateAddress(host) ? `${host} is a private address` : null;
}

/** The code of the error guardedLookup fails a connection with. */
export const PRIVATE_ADDRESS = 'EPRIVATEADDRESS';

/**
 * A `lookup` for http.request that refuses private addresses at connect time, so a name that
 * resolved to a public address when it was configured cannot be pointed inward later.
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
        e.code = PRIVATE_ADDRESS;
        return callback(e, []);
      }
      if ((options as { all?: boolean }).all) return callback(null, ok);
      callback(null, ok[0].address, ok[0].family);
    });
  };
}
