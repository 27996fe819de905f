import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { createDb, createPool, withDatabase } from '../../db/database';
import { freePort, isAlive, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded-postgres';
import { migrateToLatest } from '../../db/migrator';
import type { DB } from '../../db/schema';
import { createLogger } from '../../logger';

/** The one PostgreSQL server every replica of a chaos run shares, with the faults the nemesis can inject into it. */
export interface ChaosPostgres {
  /** The run's database: what replicas get as DATABASE_URL. */
  url: string;
  /** The harness's own pool (set-up, checker); it survives the faults like the replicas must. */
  db: Kysely<DB>;
  /** Ends every other session on the run's database (pg_terminate_backend): each replica loses all its connections. */
  terminateBackends(): Promise<number>;
  /**
   * Stops the server with an immediate shutdown (SIGQUIT to the postmaster: no checkpoint, crash recovery on start) and
   * starts it again on the same port. Optional: a server shared with other work must not go down (the nemesis then
   * only terminates sessions).
   */
  restart?: () => Promise<void>;
  close(): Promise<void>;
}

const DB_NAME = 'solbound_chaos';

/** Ends every session of `database` but the caller's own. */
async function terminate(db: Kysely<DB>, database: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*) filter (where pg_terminate_backend(pid))::int as n
    from pg_stat_activity where datname = ${database} and pid <> pg_backend_pid()`.execute(db);
  return rows[0]?.n ?? 0;
}

/**
 * A server of the run's own (embedded PostgreSQL in a temporary directory, durability off as in the test suite: an
 * immediate shutdown then loses what a real server would replay from WAL only if the OS crashed too, which the run
 * does not simulate). The run's database is created and migrated here.
 */
export async function startOwnPostgres(): Promise<ChaosPostgres> {
  const log = createLogger('warn', 'chaos-pg');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-chaos-pg-'));
  const port = await freePort();
  const flags = ['-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
  const start = () => startEmbeddedPostgres({ dataDir, port, log, flags });
  let server: EmbeddedPostgresHandle = await start();
  const admin = createDb(createPool(server.url, 1));
  try {
    await sql.raw(`CREATE DATABASE ${DB_NAME}`).execute(admin);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(server.url, DB_NAME);
  const db = createDb(createPool(url, 4));
  await migrateToLatest(db);
  const postmasterPid = () => Number.parseInt(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  return {
    url,
    db,
    terminateBackends: () => terminate(db, DB_NAME),
    async restart() {
      const pid = postmasterPid();
      process.kill(pid, 'SIGQUIT');
      const deadline = Date.now() + 15_000;
      while (isAlive(pid)) {
        if (Date.now() > deadline) throw new Error(`postgres ${pid} did not stop on SIGQUIT`);
        await new Promise((r) => setTimeout(r, 20));
      }
      server = await start();
    },
    async close() {
      await db.destroy();
      await server.stop().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
