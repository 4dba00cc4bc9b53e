import { ConfigError, loadConfig } from './config.js';
import { DataDirLockedError } from './db/embedded.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

/** `npm start`: serve until SIGTERM/SIGINT, then drain and exit. */
export async function main(env = process.env): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
  const where = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `the embedded database in ${config.dataDir}`;
  process.stderr.write(
    `\nRosterbridge is serving ${config.publicUrl} on ${where}.\n` +
      `Next: create a tenant and an admin token, then call the API:\n` +
      `  npx rosterbridge tenant create --slug my-school --name "My School"\n` +
      `  npx rosterbridge token create --tenant my-school --kind admin\n` +
      `  curl -H "Authorization: Bearer <token>" ${config.publicUrl}/api/v1/tenant\n` +
      `API reference: ${config.publicUrl}/docs\n\n`,
  );
  // Handlers stay installed: Ctrl-C reaches us twice (from the terminal's process group and from npm
  // forwarding it), and a second default-action SIGINT would kill the process mid-drain.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
