import type { AppContext } from '../../app-context';
import * as jobsRepo from './billing-jobs.repository';
import { grantKey } from './billing-jobs.repository';
import type { BillingRolesDiscord, RoleProblem } from './billing-roles.discord';
import type { DueRoleChange } from './billing.repository';

/**
 * The one drain of the role-change outbox: the billing-role-changes job runs it on a schedule, and a "Pay from
 * balance" click runs it once right away for that member's rows only (`userId`), so the role shows up before the
 * next tick. Rows are written in the transaction that changed a subscription (activation, extension, expiry, cancel,
 * refund) or by the reconcile; this applies them on Discord:
 * - claimed in batches with SKIP LOCKED and leased, so no lock is held across a Discord call and two drainers never
 *   apply the same row;
 * - each row is checked against what the member's subscriptions say *now* (a grant whose subscription has since
 *   ended, or a removal while another live subscription grants the same role, is finished without a call), so
 *   retries and out-of-order rows cannot leave the wrong role behind;
 * - idempotent on Discord's side (adding a role the member has, or removing one they lack, is a success);
 * - guilds in parallel, one guild's rows in order (they share Discord's per-guild bucket; discord.js waits out 429s);
 * - transient failures retried with exponential backoff, up to MAX_ATTEMPTS; permanent refusals (the role above the
 *   bot's highest role, Manage Roles missing, a deleted role, a member who left before a grant) finished as failed,
 *   with one alert per (guild, role, problem) a window in the guild's log channel saying how to fix it. The
 *   role-sync reconcile re-queues what is still missing once it is fixed.
 */

export const MAX_ATTEMPTS = 8;
const ALERT_WINDOW_HOURS = 6;

export interface RoleOutboxOptions {
  batchSize?: number;
  /** Stop after this many batches (the next run continues). */
  maxBatches?: number;
  /** Guilds applied at once. */
  concurrency?: number;
  /** How long a claimed row stays invisible to other drainers. */
  leaseSeconds?: number;
  /**
   * Only this member's rows (users.id), and no rejoin grants: the immediate drain after a payment, which should do
   * that member's work and nobody else's on an interaction.
   */
  userId?: bigint;
}

export interface RoleOutboxResult {
  applied: number;
  /** Finished without a call: superseded by the member's current subscriptions, or a duplicate in the batch. */
  skipped: number;
  retried: number;
  failed: number;
  rejoins: number;
}

type RoleOutboxContext = Pick<AppContext, 'db' | 'log' | 'effects' | 'services'>;

/** Backoff after the n-th failed attempt: 10 s, 20 s, 40 s … capped at one hour, with ±20 % jitter. */
export function retryDelaySeconds(attempts: number): number {
  const base = Math.min(3600, 10 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export async function drainRoleOutbox(ctx: RoleOutboxContext, opts: RoleOutboxOptions = {}): Promise<RoleOutboxResult> {
  const result: RoleOutboxResult = { applied: 0, skipped: 0, retried: 0, failed: 0, rejoins: 0 };
  const discord = ctx.effects.billingRoles;
  // Without Discord nothing can be applied: the rows wait for a process that has it.
  if (!discord) return result;
  const batchSize = opts.batchSize ?? 200;
  const maxBatches = opts.maxBatches ?? 50;
  const concurrency = opts.concurrency ?? 8;
  const leaseSeconds = opts.leaseSeconds ?? 600;

  if (opts.userId === undefined) result.rejoins = await jobsRepo.enqueueRejoinGrants(ctx.db, discord.takeJoins());
  for (let batch = 0; batch < maxBatches; batch++) {
    const rows = await jobsRepo.claimRoleChanges(ctx.db, batchSize, leaseSeconds, opts.userId);
    if (rows.length === 0) break;
    const granted = await jobsRepo.grantedRoles(ctx.db, rows.map((r) => r.user_id));
    const byGuild = new Map<string, DueRoleChange[]>();
    for (const r of rows) byGuild.set(r.guild_id, [...(byGuild.get(r.guild_id) ?? []), r]);
    const done: bigint[] = [];
    await eachLimited([...byGuild.values()], concurrency, async (guildRows) => {
      const seen = new Set<string>();
      for (const row of guildRows) {
        const key = grantKey(row.guild_id, row.role_id, row.user_id);
        const wanted = granted.has(key);
        if ((row.op === 'add') !== wanted || seen.has(`${row.op}:${key}`)) {
          done.push(row.id);
          result.skipped++;
          continue;
        }
        seen.add(`${row.op}:${key}`);
        const outcome = await discord.applyRole(row.guild_id, row.discord_id, row.role_id, row.op, row.reason);
        if (outcome.ok) {
          done.push(row.id);
          result.applied++;
        } else if (outcome.permanent || row.attempts + 1 >= MAX_ATTEMPTS) {
          await jobsRepo.failRoleChange(ctx.db, row.id, outcome.message);
          result.failed++;
          ctx.log.warn({ roleChange: row.id, guildId: row.guild_id, roleId: row.role_id, op: row.op, error: outcome.message }, 'role change failed for good');
          if (outcome.permanent) await alertGuild(ctx, discord, row, outcome.problem);
        } else {
          await jobsRepo.retryRoleChangeLater(ctx.db, row.id, outcome.message, retryDelaySeconds(row.attempts + 1));
          result.retried++;
        }
      }
    });
    await jobsRepo.finishRoleChanges(ctx.db, done);
    if (rows.length < batchSize) break;
  }
  return result;
}

/**
 * Right after a member's payment, trial or refund: applies that member's queued role changes now, so the role shows
 * up (or goes) with the reply rather than at the job's next tick. Never throws: what it cannot do stays queued for
 * the billing-role-changes job.
 */
export async function drainMemberRoles(ctx: RoleOutboxContext, userId: bigint): Promise<void> {
  try {
    await drainRoleOutbox(ctx, { userId, batchSize: 10, maxBatches: 1 });
  } catch (err) {
    ctx.log.warn({ err, userId }, 'immediate role drain failed; the outbox keeps the change');
  }
}

/** Tells the guild's log channel (once a window per role and problem) what Discord refused and how to fix it. */
async function alertGuild(ctx: RoleOutboxContext, discord: BillingRolesDiscord, row: DueRoleChange, problem: RoleProblem): Promise<void> {
  if (problem === 'unknown_guild') return;
  const scope = problem === 'unknown_member' ? `${row.role_id}:${row.discord_id}` : row.role_id;
  try {
    const { logChannelId } = await ctx.services.guilds.settings(row.guild_id);
    if (!logChannelId) {
      ctx.log.warn({ guildId: row.guild_id, problem }, 'membership role problem, and the guild has no log channel to tell');
      return;
    }
    if (!(await jobsRepo.claimRoleAlert(ctx.db, row.guild_id, scope, problem, ALERT_WINDOW_HOURS))) return;
    await discord.post(logChannelId, roleProblemText(problem, row));
  } catch (err) {
    ctx.log.error({ err, guildId: row.guild_id, problem }, 'could not alert the guild about a role problem');
  }
}

export function roleProblemText(problem: RoleProblem, c: Pick<DueRoleChange, 'op' | 'role_id' | 'discord_id'>): string {
  const role = `<@&${c.role_id}>`;
  const what = c.op === 'add' ? `give members ${role}` : `take ${role} back from members`;
  const retry = 'Once fixed, the membership role sync (every 15 minutes) repairs every member.';
  switch (problem) {
    case 'role_above_bot':
      return `⚠️ Memberships: I cannot ${what}: it sits at or above my highest role. Fix: Server Settings → Roles, drag my role above ${role}. ${retry}`;
    case 'missing_manage_roles':
      return `⚠️ Memberships: I cannot ${what}: my role lacks the **Manage Roles** permission. Fix: Server Settings → Roles → my role → enable Manage Roles. ${retry}`;
    case 'missing_permissions':
      return `⚠️ Memberships: Discord refused to let me ${what} (missing permissions). Fix: give my role Manage Roles and place it above ${role}. ${retry}`;
    case 'unknown_role':
      return `⚠️ Memberships: the role ${c.role_id} a plan grants no longer exists. Fix: point the plan at an existing role with \`/plan edit\`. ${retry}`;
    case 'unknown_member':
      return `ℹ️ Memberships: <@${c.discord_id}> left before I could give them ${role}; they get it when they rejoin while their subscription runs.`;
    case 'unknown_guild':
      return '';
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
