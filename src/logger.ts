import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** Structured JSON logs on stdout; secrets in headers are redacted. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'rosterbridge' },
    redact: ['req.headers.authorization', 'authorization', 'token'],
  });
}
