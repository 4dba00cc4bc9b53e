import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/** Structured JSON logs on stdout; secrets in headers are redacted. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'rosterbridge' },
    redact: ['req.headers.authorization', 'authorization', 'token'],
  };
  return destination ? pino(options, destination) : pino(options);
}
