import type { Sequelize } from 'sequelize';
import { appliedMigrations } from '../db/migrator.js';

export interface Readiness {
  ready: boolean;
  checks: { database: 'ok' | 'unreachable'; migrations: 'ok' | 'pending' | 'unknown' };
  detail?: string;
}

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref()),
  ]);

/**
 * Readiness: the database answers and every migration this build knows has been applied.
 * `expected` is the list of migration names read once at start-up.
 */
export function readinessCheck(sequelize: Sequelize, expected: string[], timeoutMs = 2000) {
  return async function check(): Promise<Readiness> {
    let applied: string[];
    try {
      applied = await withTimeout(appliedMigrations(sequelize), timeoutMs);
    } catch (err) {
      const msg = (err as Error).message;
      // The meta table missing means "reachable but never migrated".
      if (/does not exist/.test(msg))
        return { ready: false, checks: { database: 'ok', migrations: 'pending' }, detail: 'database not migrated' };
      return { ready: false, checks: { database: 'unreachable', migrations: 'unknown' }, detail: msg };
    }
    const missing = expected.filter((name) => !applied.includes(name));
    if (missing.length)
      return {
        ready: false,
        checks: { database: 'ok', migrations: 'pending' },
        detail: `pending: ${missing.join(', ')}`,
      };
    return { ready: true, checks: { database: 'ok', migrations: 'ok' } };
  };
}
