import pg from 'pg';
import type { Logger } from 'pino';

/**
 * A dedicated connection LISTENing on one PostgreSQL channel, for in-process caches invalidated
 * by NOTIFY. A cache may only trust what it holds while `up`: notifications sent while the
 * connection was down are lost, so `onDown` and `onUp` both mean "anything may have changed"
 * (drop everything). A lost connection is retried every second, a failed connect every two.
 */
export interface ListenOptions {
  url: string;
  channel: string;
  onNotify(payload: string): void;
  /** Called when the connection is lost and again when it is (re)established. */
  onReset(): void;
  /** Names the cache in log lines, e.g. "token cache". */
  name: string;
  /** What the cache does while it cannot listen, for the log, e.g. "tokens are read uncached". */
  meanwhile: string;
  logger?: Logger;
}

export interface Listener {
  /** Whether notifications are being received now. */
  readonly up: boolean;
  /** Resolves after the first attempt to connect (whether it succeeded or not). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

export function listenWithReconnect(options: ListenOptions): Listener {
  let client: pg.Client | null = null;
  let up = false;
  let stopped = false;
  const retry = (ms: number) => {
    if (!stopped) setTimeout(() => void connect(), ms).unref();
  };

  async function connect(): Promise<void> {
    if (stopped) return;
    const c = new pg.Client({ connectionString: options.url });
    const lost = () => {
      if (client !== c) return;
      client = null;
      up = false;
      options.onReset();
      retry(1000);
    };
    c.on('error', (err) => {
      options.logger?.warn({ err }, `${options.name}: LISTEN connection lost; ${options.meanwhile} until it is back`);
      lost();
    });
    c.on('end', lost);
    c.on('notification', (n) => {
      if (n.channel === options.channel) options.onNotify(n.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${options.channel}`);
      if (stopped) {
        await c.end().catch(() => {});
        return;
      }
      client = c;
      up = true;
      options.onReset();
    } catch (err) {
      options.logger?.warn({ err }, `${options.name}: cannot LISTEN; ${options.meanwhile}`);
      await c.end().catch(() => {});
      retry(2000);
    }
  }

  const started = connect();
  return {
    get up() {
      return up && !stopped;
    },
    started,
    async stop() {
      stopped = true;
      up = false;
      const c = client;
      client = null;
      if (c) await c.end().catch(() => {});
    },
  };
}
