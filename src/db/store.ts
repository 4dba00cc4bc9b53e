import type { Sequelize, Transaction } from 'sequelize';
import { UniqueConstraintError } from 'sequelize';
import { createKeySealer, type KeySealer } from '../domain/key-sealing.js';
import { defineModels, type Models } from './models.js';

/** What domain functions need from the database: the connection, its models, and how secrets are sealed at rest. */
export interface Store {
  sequelize: Sequelize;
  models: Models;
  sealer: KeySealer;
}

export function createStore(sequelize: Sequelize, options: { toolKeySecrets?: Buffer[] } = {}): Store {
  return { sequelize, models: defineModels(sequelize), sealer: createKeySealer(options.toolKeySecrets ?? []) };
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
