import pg from 'pg';
import { Sequelize } from 'sequelize';
import type { Config } from '../config.js';
import { lockOwner, openEmbedded, socketExists, SOCKET_PORT } from './embedded.js';

// BIGINT (audit ids, counts) as JS numbers: our values stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface Database {
  sequelize: Sequelize;
  /** 'postgres' for DATABASE_URL, 'embedded' when this process owns PGlite, 'embedded-client' when it talks to the owner. */
  kind: 'postgres' | 'embedded' | 'embedded-client';
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Connect through a running server's socket instead of opening DATA_DIR (CLI). */
  allowClient?: boolean;
  /** Keep PGlite in memory (tests). */
  persist?: boolean;
  poolMax?: number;
  /**
   * PostgreSQL statement_timeout on every pooled connection (the server's request queries; 0 or
   * unset: none). Sent as a startup parameter, so only on DATABASE_URL: PGlite (one in-process
   * session) does not enforce statement_timeout, so embedded runs rely on the SCIM limits alone.
   */
  statementTimeoutMs?: number;
}

function newSequelize(options: {
  url?: string;
  host?: string;
  poolMax: number;
  statementTimeoutMs?: number;
}): Sequelize {
  const common = {
    dialect: 'postgres' as const,
    dialectModule: pg,
    logging: false as const,
    pool: { max: options.poolMax, min: 0, acquire: 15_000, idle: 10_000 },
    define: { underscored: true, timestamps: false },
    ...(options.statementTimeoutMs ? { dialectOptions: { statement_timeout: options.statementTimeoutMs } } : {}),
  };
  return options.url
    ? new Sequelize(options.url, common)
    : new Sequelize('postgres', 'postgres', '', { ...common, host: options.host, port: SOCKET_PORT });
}

export async function connectDatabase(config: Config, options: ConnectOptions = {}): Promise<Database> {
  if (config.databaseUrl) {
    const sequelize = newSequelize({
      url: config.databaseUrl,
      poolMax: options.poolMax ?? 10,
      statementTimeoutMs: options.statementTimeoutMs,
    });
    return { sequelize, kind: 'postgres', close: () => sequelize.close() };
  }
  if (options.allowClient && (await lockOwner(config.dataDir)) !== null && (await socketExists(config.dataDir))) {
    const sequelize = newSequelize({ host: config.dataDir, poolMax: 1 });
    return { sequelize, kind: 'embedded-client', close: () => sequelize.close() };
  }
  const embedded = await openEmbedded(config.dataDir, { persist: options.persist });
  // PGlite is a single session: one pooled connection, so transactions never interleave.
  const sequelize = newSequelize({ host: embedded.socketDir, poolMax: 1 });
  return {
    sequelize,
    kind: 'embedded',
    async close() {
      await sequelize.close();
      await embedded.close();
    },
  };
}
