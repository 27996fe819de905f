import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema';
import type { Logger } from '../../logger';
import * as repo from './billing.repository';
import type { BillingDiscordEffects } from './billing.service';

export interface DrainResult {
  applied: number;
  /** A removal skipped because another live subscription still grants the role. */
  skipped: number;
  failed: number;
}

/** Backoff after the n-th failed attempt: 30 s, 1 min, 2 min … capped at 1 h. */
export const roleRetryDelayMs = (attempts: number) => Math.min(30_000 * 2 ** attempts, 3_600_000);

/**
 * Applies due role-change outbox rows through the Discord port, oldest first, up to `limit`. Each row is claimed
 * with FOR UPDATE SKIP LOCKED in its own short transaction, so two drainers (replicas, or a job and a test) never
 * apply one row twice and a slow Discord call holds only that row. Add and remove are idempotent on Discord, so a
 * crash between the call and the commit only repeats a harmless call. A removal is skipped when another ACTIVE
 * subscription of the member in that guild still grants the same role. Failures are recorded and retried with
 * backoff (the role-sync job will wrap this and alert on permanent ones).
 */
export async function drainRoleChanges(db: Kysely<DB>, discord: BillingDiscordEffects, o: { limit?: number; log?: Logger } = {}): Promise<DrainResult> {
  const out: DrainResult = { applied: 0, skipped: 0, failed: 0 };
  for (let i = 0; i < (o.limit ?? 100); i++) {
    const done = await db.transaction().execute(async (trx) => {
      const [change] = await repo.claimDueRoleChanges(trx, 1);
      if (!change) return false;
      try {
        if (change.op === 'remove' && (await repo.roleStillGranted(trx, change.guild_id, change.user_id, change.role_id))) {
          out.skipped += 1;
        } else {
          const call = change.op === 'add' ? discord.addRole : discord.removeRole;
          await call(change.guild_id, change.discord_id, change.role_id, change.reason.slice(0, 200));
          out.applied += 1;
        }
        await repo.finishRoleChange(trx, change.id);
      } catch (err) {
        out.failed += 1;
        o.log?.warn({ err, roleChange: change.id, guildId: change.guild_id, roleId: change.role_id, op: change.op }, 'role change failed; retrying later');
        await repo.retryRoleChange(trx, change.id, err instanceof Error ? err.message : String(err), roleRetryDelayMs(change.attempts));
      }
      return true;
    });
    if (!done) break;
  }
  return out;
}
