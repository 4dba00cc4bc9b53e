import type { Sequelize, Transaction } from 'sequelize';
import { UniqueConstraintError } from 'sequelize';
import { defineModels, type Models } from './models.js';

/** What domain functions need from the database: the connection and its models. */
export interface Store {
  sequelize: Sequelize;
  models: Models;
}

export function createStore(sequelize: Sequelize): Store {
  return { sequelize, models: defineModels(sequelize) };
}

/** Who is acting and on behalf of which request: written to every audit event. */
export interface ActorContext {
  actor: string;
  requestId?: string;
}

export function inTransaction<T>(store: Store, fn: (t: Transaction) => Promise<T>): Promise<T> {
  return store.sequelize.transaction(fn);
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (!(err instanceof UniqueConstraintError)) return false;
  if (!constraint) return true;
  const original = err.original as { constraint?: string } | undefined;
  return original?.constraint === constraint;
}
