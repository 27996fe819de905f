import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema';

export interface PendingReply {
  interaction_id: string;
  application_id: string;
  token: string;
  payload: unknown;
  deferred_at: Date;
  attempts: number;
}

/** Idempotent: a replayed handler deferring again keeps the first row (and its deferral time). */
export async function recordDeferral(db: Kysely<DB>, r: { interactionId: string; applicationId: string; token: string; payload: unknown }): Promise<void> {
  await db
    .insertInto('interaction_replies')
    .values({ interaction_id: r.interactionId, application_id: r.applicationId, token: r.token, payload: JSON.stringify(r.payload) })
    .onConflict((oc) => oc.column('interaction_id').doNothing())
    .execute();
}

export async function markAnswered(db: Kysely<DB>, interactionId: string): Promise<void> {
  await db.deleteFrom('interaction_replies').where('interaction_id', '=', interactionId).execute();
}

/**
 * Leases up to `limit` deferrals older than `olderThanSeconds` that nobody answered (and nobody holds a live lease
 * on), skipping `exclude` (this process's own handlers still at work). SKIP LOCKED: replicas never take the same row.
 */
export async function claimDue(
  db: Kysely<DB>,
  o: { olderThanSeconds: number; leaseSeconds: number; limit: number; exclude: string[] },
): Promise<PendingReply[]> {
  const { rows } = await sql<PendingReply>`
    update interaction_replies r set claimed_until = now() + make_interval(secs => ${o.leaseSeconds}), attempts = r.attempts + 1
    where r.interaction_id in (
      select interaction_id from interaction_replies
      where deferred_at < now() - make_interval(secs => ${o.olderThanSeconds})
        and (claimed_until is null or claimed_until < now())
        and interaction_id <> all(${o.exclude}::text[])
      order by deferred_at
      limit ${o.limit}
      for update skip locked)
    returning r.interaction_id, r.application_id, r.token, r.payload, r.deferred_at, r.attempts`.execute(db);
  return rows;
}

/** Deferrals whose token is dead (Discord's 15 minutes): nothing can answer them any more. */
export async function dropExpired(db: Kysely<DB>, maxAgeSeconds: number): Promise<number> {
  const r = await db
    .deleteFrom('interaction_replies')
    .where('deferred_at', '<', sql<Date>`now() - make_interval(secs => ${maxAgeSeconds})`)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
