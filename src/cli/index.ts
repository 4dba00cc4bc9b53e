import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { connectDatabase } from '../db/connect.js';
import { DataDirLockedError } from '../db/embedded.js';
import { migrate } from '../db/migrator.js';
import { createStore } from '../db/store.js';
import { AppError } from '../errors.js';
import { cliActor, commands } from './commands.js';
import { createOut, UsageError } from './io.js';

const HELP = `rosterbridge — SCIM + LTI roster bridge

Usage: rosterbridge <command> [options]

Commands:
${[...Object.values(commands).map((c) => c.usage), 'serve'].map((u) => `  ${u}`).join('\n')}

Configuration comes from the environment (DATABASE_URL, DATA_DIR, …) exactly as for the server.
With no DATABASE_URL the CLI talks to a running server's embedded database through its socket,
or opens DATA_DIR itself when no server runs.`;

function findCommand(argv: string[]) {
  const words = argv.filter((a) => !a.startsWith('-'));
  const two = words.slice(0, 2).join(' ');
  if (commands[two]) return { name: two, rest: dropWords(argv, 2) };
  if (words[0] && commands[words[0]]) return { name: words[0], rest: dropWords(argv, 1) };
  return null;
}

function dropWords(argv: string[], n: number): string[] {
  const out = [...argv];
  for (let dropped = 0; dropped < n; ) {
    const i = out.findIndex((a) => !a.startsWith('-'));
    out.splice(i, 1);
    dropped++;
  }
  return out;
}

/** Runs one CLI invocation and returns its exit code: 0 ok, 2 bad usage or input, 1 failure. */
export async function runCli(argv: string[], env = process.env): Promise<number> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`rosterbridge: ${message}\n`);
    return code;
  };
  if (argv.length === 0 || argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === 'serve') {
    await import('../main.js');
    return -1; // the server keeps the process alive; signals end it
  }
  const found = findCommand(argv);
  if (!found)
    return fail(
      2,
      `unknown command "${argv
        .filter((a) => !a.startsWith('-'))
        .slice(0, 2)
        .join(' ')}" (try --help)`,
    );
  const command = commands[found.name];
  const parseFlags = () =>
    parseArgs({
      args: found.rest,
      options: { ...command.options, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags();
  } catch (err) {
    return fail(2, `${(err as Error).message.split('\n')[0]}\n  usage: rosterbridge ${command.usage}`);
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, err.message.replace(/\n\s*/g, ' '));
    throw err;
  }
  const out = createOut(Boolean(parsed.values.json));
  let db: Awaited<ReturnType<typeof connectDatabase>>;
  try {
    db = await connectDatabase(config, { allowClient: true });
  } catch (err) {
    if (err instanceof DataDirLockedError) return fail(1, err.message);
    return fail(1, `cannot reach the database: ${(err as Error).message}`);
  }
  try {
    const store = createStore(db.sequelize, { toolKeySecrets: config.toolKeySecrets });
    if (found.name !== 'migrate') await migrate(db.sequelize);
    await command.run({ config, store, out, actor: cliActor(), flags: parsed.values, positionals: parsed.positionals });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) return fail(2, `${err.message}\n  usage: rosterbridge ${command.usage}`);
    if (err instanceof AppError && err.expose) return fail(2, err.message);
    return fail(1, (err as Error).message);
  } finally {
    await db.close();
  }
}

const code = await runCli(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
