import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, createPool, ping } from './database';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase({ poolMax: 2 });
});
afterAll(async () => {
  await tdb.drop();
});

describe('pool resilience', () => {
  // A postgres restart or failover terminates every backend. The connection that is checked out at that moment
  // used to emit an unhandled 'error' event (pg-pool removes its listener while a client is lent), killing the bot.
  it('survives the backend of a checked-out connection being terminated, and recovers', async () => {
    const db = createDb(createPool(tdb.url, 2));
    const killer = createDb(createPool(tdb.url, 1));
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const failure = await db
        .connection()
        .execute(async (conn) => {
          const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn);
          await sql`SELECT pg_terminate_backend(${rows[0]!.pid})`.execute(killer);
          // Give the socket close (and the 'error' event it raises) time to arrive while the client is still lent.
          await new Promise((r) => setTimeout(r, 200));
          await sql`SELECT 1`.execute(conn);
        })
        .then(
          () => undefined,
          (err: Error) => err,
        );
      expect(failure).toBeInstanceOf(Error);
      expect(uncaught).toEqual([]);
      // The pool discards the broken client and serves the next query on a fresh one.
      await expect(ping(db)).resolves.toBeUndefined();
    } finally {
      process.off('uncaughtException', onUncaught);
      await db.destroy();
      await killer.destroy();
    }
  });
});
