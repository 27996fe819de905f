import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { Logger } from '../../logger';
import * as repo from './dms.repository';

/*
 * The member-DM outbox (migration 226000): a DM that reports a committed change is written in that change's
 * transaction and sent afterwards, at least once. Callers enqueue inside their transaction and, after the commit,
 * call deliverDms with the keys they queued so the member hears at once; the dm-outbox job sends whatever a crash,
 * a Discord outage or a process without Discord left owed.
 */

/** The Discord side (dms.discord.ts): resolves 'refused' when retrying cannot help, throws when it might. */
export interface DmPort {
  send(discordId: string, content: string): Promise<'sent' | 'refused'>;
}

/** A DM's text is one Discord message. */
export const DM_MAX_CHARS = 2000;
/** How long a sender holds a claimed DM before another replica may take it. */
const LEASE_SECONDS = 60;
/** Given up (logged, marked with the error) after this many failed sends. */
export const DM_MAX_ATTEMPTS = 10;

/**
 * Owes `content` to the member from the caller's transaction on. `key` names what the DM is about (e.g.
 * `billing.reminder.3d:<subscription>:<expiry>`): a second enqueue under the same key is a no-op, returns false.
 */
export function enqueueDm(trx: Transaction<DB>, dm: { key: string; discordId: string; content: string }): Promise<boolean> {
  if (dm.content.length > DM_MAX_CHARS) throw new Error(`DM ${dm.key} is ${dm.content.length} characters (max ${DM_MAX_CHARS})`);
  return repo.enqueue(trx, dm);
}

export interface DeliverResult {
  sent: number;
  /** Discord refused for good (DMs closed, unknown user) or the attempts ran out: not retried. */
  refused: number;
  /** Failed this time; owed again after a backoff. */
  retried: number;
}

/**
 * Sends owed DMs (only `keys`, when given) until none is left or `limit` were tried. Without a port (a process with
 * no Discord) nothing is claimed: the DMs wait for one that has it. A crash after Discord took a DM and before it is
 * marked sends it again on the next pass (at-least-once).
 */
export async function deliverDms(
  deps: { db: Kysely<DB>; log: Logger; dms?: DmPort | undefined },
  o: { keys?: readonly string[]; limit?: number } = {},
): Promise<DeliverResult> {
  const out: DeliverResult = { sent: 0, refused: 0, retried: 0 };
  const port = deps.dms;
  if (!port) return out;
  const limit = o.limit ?? 500;
  while (out.sent + out.refused + out.retried < limit) {
    const batch = await repo.claim(deps.db, { limit: Math.min(50, limit - out.sent - out.refused - out.retried), leaseSeconds: LEASE_SECONDS, ...(o.keys && { keys: o.keys }) });
    if (batch.length === 0) break;
    for (const dm of batch) {
      try {
        const outcome = await port.send(dm.discord_id, dm.content);
        await repo.finish(deps.db, dm.id, outcome === 'refused' ? 'refused by Discord' : undefined);
        out[outcome === 'refused' ? 'refused' : 'sent']++;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const giveUp = dm.attempts >= DM_MAX_ATTEMPTS;
        deps.log.warn({ err, dm: dm.key, attempts: dm.attempts, giveUp }, 'member DM not sent');
        await (giveUp ? repo.finish(deps.db, dm.id, message) : repo.release(deps.db, dm.id, message));
        out[giveUp ? 'refused' : 'retried']++;
      }
    }
    // Keyed deliveries are the caller's own DMs: one pass, a failure waits for the job.
    if (o.keys) break;
  }
  return out;
}
