import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { registerLockConnection } from './advisory-lock';
import type { DB } from './schema';

// BIGINT (20) and NUMERIC (1700) come back as exact bigint, never as a lossy JS number or a string.
pg.types.setTypeParser(20, (v) => BigInt(v));
pg.types.setTypeParser(1700, (v) => (/^-?\d+$/.test(v) ? BigInt(v) : v));

export function createPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'solbound' });
  // A client losing its connection (postgres restart, failover, a terminated backend) emits 'error'. pg-pool
  // listens only while the client is idle and removes its listener while the client is lent out, and Kysely adds
  // none, so an error on a checked-out client would be an unhandled 'error' event that kills the process. The
  // query in flight still rejects with the error (and the pool discards the client), so swallowing the event here
  // loses nothing.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

export function createDb(pool: pg.Pool): Kysely<DB> {
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  registerLockConnection(db, pool);
  return db;
}

export async function ping(db: Kysely<DB>): Promise<void> {
  await sql`select 1`.execute(db);
}

/** Replaces the database name in a postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
