import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request as the receiver saw it, and whether its Standard Webhooks signature verified. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  verified: boolean;
  payload: { type: string; timestamp: string; data: any } | null;
  answered: number;
}

/**
 * The school's other system: an HTTP endpoint that verifies each request with the standardwebhooks
 * package against the secret it was given, and answers what the test asks (500s on purpose).
 */
export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** The endpoint's secret as returned once at registration. */
  secret: string | null;
  /** Status to answer the next requests with, in order; then `otherwise`. */
  script: number[];
  otherwise: number;
  /** Requests (of any kind) until `n` have arrived that match, or throw after `timeoutMs`. */
  waitFor(match: (r: Received) => boolean, n?: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    secret: null,
    script: [],
    otherwise: 200,
    async waitFor(match, n = 1, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hits = receiver.received.filter(match);
        if (hits.length >= n) return hits;
        if (Date.now() > until)
          throw new Error(
            `waited ${timeoutMs} ms for ${n} matching webhook(s); got ${hits.length} of ${receiver.received.length}: ${receiver.received.map((r) => r.payload?.type).join(', ')}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      let payload: Received['payload'] = null;
      try {
        if (receiver.secret) {
          payload = new Webhook(receiver.secret).verify(
            body,
            req.headers as Record<string, string>,
          ) as Received['payload'];
          verified = true;
        }
      } catch {
        verified = false;
      }
      if (!payload) {
        try {
          payload = JSON.parse(body);
        } catch {
          payload = null;
        }
      }
      const answered = receiver.script.length ? receiver.script.shift()! : receiver.otherwise;
      receiver.received.push({ headers: req.headers, body, verified, payload, answered });
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered < 300 ? 'ok' : 'failing on purpose');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}
