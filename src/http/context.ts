import type { Logger } from 'pino';
import type { ResolvedToken } from '../domain/tokens.js';

declare module 'hono' {
  interface ContextVariableMap {
    requestId: string;
    logger: Logger;
    auth: ResolvedToken;
  }
}
export {};
