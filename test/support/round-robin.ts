import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer with no sticky sessions: each request goes to the next backend in turn. It
 * remembers which backend served which request, so a test can show a flow crossed instances.
 */
export interface RoundRobin {
  url: string;
  served: Array<{ path: string; backend: number }>;
  close(): Promise<void>;
}

export async function startRoundRobin(backends: () => string[], port = 0): Promise<RoundRobin> {
  let next = 0;
  const served: RoundRobin['served'] = [];
  const server: Server = createServer((req, res) => {
    const list = backends();
    const i = next++ % list.length;
    served.push({ path: req.url ?? '', backend: i });
    const target = new URL(req.url ?? '/', list[i]);
    const upstream = request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
