import { spawn } from 'node:child_process';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/**
 * A closed-loop HTTP load generator in a process of its own (so its CPU is not the server's or the
 * bench's): raw HTTP/1.1 over keep-alive sockets with prebuilt requests, as autocannon and wrk do.
 * `runHttpLoad` starts it and resolves to what it measured after a warm-up.
 */
const SELF = fileURLToPath(import.meta.url);

export interface HttpLoadArgs {
  url: string;
  token: string;
  /** request bodies, sent round-robin */
  bodies: string[];
  seconds: number;
  connections: number;
  path?: string;
  method?: string;
  /** ms of unrecorded load first (default 1500) */
  warmup?: number;
  /**
   * Open loop: requests per second offered in all, spread evenly over the connections (as wrk2
   * does). Each request has a due time and its latency counts from then, so a stalled server is
   * charged for the requests it delayed (no coordinated omission). Without it: closed loop, each
   * connection sends its next request as soon as the previous one is answered.
   */
  rate?: number;
}

export interface HttpLoadResult {
  /** answers recorded (after the warm-up) */
  requests: number;
  /** answers during the warm-up (not in the figures; for per-request costs over the whole load) */
  warmupRequests: number;
  /** answers other than 200, and socket errors */
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** the load generator's own event loop delay p99 (ms) and preemptions while measuring: its lateness counts in open loop */
  generatorLoopP99: number;
  generatorPreempted: number;
}

async function loadGenerator(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const {
    url,
    token,
    bodies,
    seconds,
    connections,
    path = '/api/v1/authorize',
    method = 'POST',
    warmup = 1500,
    rate,
  } = JSON.parse(input) as HttpLoadArgs;
  // Open loop: one connection's requests are due every `every` ms (staggered across connections).
  const every = rate ? (connections * 1000) / rate : 0;
  const target = new URL(path, url);
  // Raw HTTP/1.1 over keep-alive sockets with prebuilt requests (as autocannon and wrk do), so the
  // generator costs far less CPU per request than the server it measures.
  const requests = bodies.map((body) =>
    Buffer.from(
      `${method} ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${method === 'GET' ? 0 : Buffer.byteLength(body)}\r\n\r\n${method === 'GET' ? '' : body}`,
    ),
  );
  const latencies: number[] = [];
  let errors = 0;
  let warmupRequests = 0;
  let i = 0;
  let nth = 0;
  const connection = (until: number, record: boolean) =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: target.hostname, port: Number(target.port) });
      socket.setNoDelay(true);
      let buf = Buffer.alloc(0);
      let t0 = 0;
      let due = performance.now() + (every * (nth++ % connections)) / connections;
      const write = () => {
        socket.write(requests[i++ % requests.length]);
      };
      const send = () => {
        if (every) {
          // The next request is due one interval after the last one's due time, however late that was.
          t0 = due;
          due += every;
          if (t0 >= until) {
            socket.end();
            return resolve();
          }
          const wait = t0 - performance.now();
          if (wait > 0) setTimeout(write, wait);
          else write();
          return;
        }
        if (performance.now() >= until) {
          socket.end();
          return resolve();
        }
        t0 = performance.now();
        write();
      };
      socket.on('connect', send);
      socket.on('error', () => {
        errors++;
        resolve();
      });
      socket.on('data', (chunk) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const headers = buf.subarray(0, head).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headers)?.[1] ?? 0);
        if (buf.length < head + 4 + length) return;
        const status = Number(headers.slice(9, 12));
        buf = buf.subarray(head + 4 + length);
        if (!record) warmupRequests++;
        else {
          if (status !== 200) errors++;
          latencies.push(performance.now() - t0);
        }
        send();
      });
    });
  const run = (until: number, record: boolean) => connection(until, record);
  // warm-up (fills the cache and JIT), then measure
  const warm = performance.now() + warmup;
  await Promise.all(Array.from({ length: connections }, () => run(warm, false)));
  const start = performance.now();
  const end = start + seconds * 1000;
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const preempted0 = process.resourceUsage().involuntaryContextSwitches;
  await Promise.all(Array.from({ length: connections }, () => run(end, true)));
  loopDelay.disable();
  const generatorPreempted = process.resourceUsage().involuntaryContextSwitches - preempted0;
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  process.stdout.write(
    JSON.stringify({
      requests: latencies.length,
      warmupRequests,
      errors,
      rps: latencies.length / elapsed,
      p50: q(0.5),
      p99: q(0.99),
      max: latencies[latencies.length - 1],
      generatorLoopP99: loopDelay.percentile(99) / 1e6,
      generatorPreempted,
    }),
  );
}

export function runHttpLoad(args: HttpLoadArgs): Promise<HttpLoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--http-load-child'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin.end(JSON.stringify(args));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`)),
    );
  });
}

if (process.argv.includes('--http-load-child')) await loadGenerator();
