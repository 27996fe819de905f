import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';

type Db = Kysely<DB> | Transaction<DB>;

export interface OwedDm {
  id: bigint;
  key: string;
  discord_id: string;
  content: string;
  attempts: number;
}

/** Owes the DM from the caller's transaction on; false when one with this key is already owed or sent. */
export async function enqueue(db: Db, dm: { key: string; discordId: string; content: string }): Promise<boolean> {
  const row = await db
    .insertInto('dm_outbox')
    .values({ key: dm.key, discord_id: dm.discordId, content: dm.content })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Leases up to `limit` unsent DMs (optionally only these keys) nobody holds a live lease on, oldest first, counting
 * the attempt. SKIP LOCKED: replicas never take the same row; a dead sender's lease runs out after `leaseSeconds`.
 */
export async function claim(db: Db, o: { limit: number; leaseSeconds: number; keys?: readonly string[] }): Promise<OwedDm[]> {
  if (o.keys?.length === 0) return [];
  const only = o.keys === undefined ? sql`true` : sql`key = ANY(${[...o.keys]}::text[])`;
  const { rows } = await sql<OwedDm>`
    WITH due AS (
      SELECT id FROM dm_outbox
      WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < now()) AND ${only}
      ORDER BY created_at, id
      LIMIT ${o.limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE dm_outbox d SET claimed_until = now() + make_interval(secs => ${o.leaseSeconds}), attempts = d.attempts + 1
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.key, d.discord_id, d.content, d.attempts`.execute(db);
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Done with it: delivered, or (with `error`) given up for good. */
export async function finish(db: Db, id: bigint, error?: string): Promise<void> {
  await db
    .updateTable('dm_outbox')
    .set({ sent_at: sql`now()`, claimed_until: null, last_error: error?.slice(0, 500) ?? null })
    .where('id', '=', id)
    .execute();
}

/** A failed send is due again after a backoff that grows with the attempts (15 s each, at most 10 min). */
export async function release(db: Db, id: bigint, error: string): Promise<void> {
  await db
    .updateTable('dm_outbox')
    .set({ claimed_until: sql`now() + make_interval(secs => least(600, 15 * attempts))`, last_error: error.slice(0, 500) })
    .where('id', '=', id)
    .execute();
}
