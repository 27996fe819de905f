import { loadConfig } from '../src/config';
import { migrateDown, migrateToLatest, migrationStatus } from '../src/db/migrator';
import { openDatabase } from '../src/db/open-database';
import { createLogger } from '../src/logger';

// npm run migrate -- [up|down|status]   (default: up)
const command = process.argv[2] ?? 'up';
if (!['up', 'down', 'status'].includes(command)) {
  process.stderr.write(`unknown command "${command}": use up, down or status\n`);
  process.exit(2);
}

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
const database = await openDatabase(config, log);
let code = 0;
try {
  if (command === 'up') {
    const applied = await migrateToLatest(database.db);
    process.stdout.write(applied.length ? applied.map((m) => `applied ${m}\n`).join('') : 'already up to date\n');
  } else if (command === 'down') {
    const reverted = await migrateDown(database.db);
    process.stdout.write(reverted.length ? reverted.map((m) => `reverted ${m}\n`).join('') : 'nothing to revert\n');
  } else {
    for (const m of await migrationStatus(database.db)) {
      process.stdout.write(`${m.executedAt ? `applied ${m.executedAt.toISOString()}` : 'pending                          '}  ${m.name}\n`);
    }
  }
} catch (err) {
  process.stderr.write(`migrate ${command} failed: ${(err as Error).message}\n`);
  code = 1;
} finally {
  await database.close();
}
process.exit(code);
