import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/** Structured JSON logs on stdout; secrets in headers are redacted. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'rosterbridge' },
    // Query parameters of a failed statement carry people's data (emails, names): the SQL text stays, its values do not.
    redact: [
      'req.headers.authorization',
      'authorization',
      'token',
      'err.parameters',
      'err.parent.parameters',
      'err.original.parameters',
    ],
  };
  return destination ? pino(options, destination) : pino(options);
}
