import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { guardedLookup, PRIVATE_ADDRESS, refusedLiteral } from './outbound-target.js';

/** The part of fetch our outbound clients use: a URL and an init whose body, if any, is a string. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * fetch over node:http, connecting only where outbound-target.ts allows: a private IP literal is
 * refused before connecting and a name through guardedLookup, on every redirect hop too (global
 * fetch cannot be given a lookup). Redirects are followed as fetch follows them, dropping the
 * Authorization header when the origin changes. A refusal fails with code EPRIVATEADDRESS.
 */
export function guardedFetch(allowPrivate: boolean): FetchLike {
  return async (url, init) => {
    if (init.body != null && typeof init.body !== 'string')
      throw new TypeError('guardedFetch sends string bodies only');
    let target = new URL(url);
    let method = (init.method ?? 'GET').toUpperCase();
    let body = init.body ?? undefined;
    const headers = new Headers(init.headers);
    for (let hop = 0; ; hop++) {
      const res = await send(target, method, headers, body, init.signal ?? undefined, allowPrivate);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (!REDIRECTS.has(status) || !location || init.redirect === 'manual') return responseOf(res, method);
      res.resume();
      if (hop === MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects from ${url}`);
      const next = new URL(location, target);
      if (next.origin !== target.origin) headers.delete('authorization');
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        headers.delete('content-type');
      }
      target = next;
    }
  };
}

function send(
  target: URL,
  method: string,
  headers: Headers,
  body: string | undefined,
  signal: AbortSignal | undefined,
  allowPrivate: boolean,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const refused = refusedLiteral(target, allowPrivate);
    if (refused) return reject(Object.assign(new Error(refused), { code: PRIVATE_ADDRESS }));
    const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : null;
    if (!client) return reject(new TypeError(`cannot fetch ${target.protocol} URLs`));
    const h: Record<string, string> = Object.fromEntries(headers);
    if (body !== undefined) h['content-length'] = String(Buffer.byteLength(body));
    const req = client.request(
      target,
      { method, headers: h, lookup: guardedLookup(allowPrivate) as never, signal },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
}

function responseOf(res: http.IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers))
    for (const v of value === undefined ? [] : [value].flat()) headers.append(name, v);
  const status = res.statusCode ?? 0;
  const empty = NULL_BODY.has(status) || method === 'HEAD';
  if (empty) res.resume();
  return new Response(empty ? null : (Readable.toWeb(res) as unknown as ReadableStream), {
    status,
    statusText: res.statusMessage,
    headers,
  });
}
