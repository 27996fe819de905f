import type { AppContext } from '../../app-context';
import { isUserError } from '../../errors';
import { Currencies } from '../ledger/currencies';
import * as jobsRepo from './billing-jobs.repository';
import type { RepairInsert } from './billing-jobs.repository';
import { isOpen } from './billing.payments';
import { InvoiceWatcher } from './invoice-watch';
import { drainRoleOutbox, type RoleOutboxResult } from './billing.role-sync';
import { deliverDms, enqueueDm } from '../dms/dm-outbox';

/**
 * The membership jobs. Each is set-based and batched, runs under the job runner's cluster-wide
 * advisory lock, and takes `now` so tests and the demo can run it at a later time than the wall clock.
 */

type JobContext = Pick<AppContext, 'db' | 'log' | 'effects' | 'services' | 'config'>;

export interface ExpiryOptions {
  now?: Date;
  /** First batch size; adapted so one batch (and so its row locks) stays near `targetBatchMs`. */
  batchSize?: number;
  targetBatchMs?: number;
}

export interface ExpiryResult {
  expired: number;
  batches: number;
  /** The longest batch: how long its row locks were held. */
  maxBatchMs: number;
}

const MIN_BATCH = 100;
const MAX_BATCH = 20_000;

/**
 * subscription-expiry: ACTIVE subscriptions whose expires_at passed become EXPIRED (inactive_since = now) with their
 * role removal queued in the same statement. Batches commit one by one, each sized from the last one's duration so
 * that no row lock is held longer than about `targetBatchMs`; a payment extending one of these rows waits at most
 * that long (or its row is skipped and seen again next run, if the payment holds it first).
 */
export async function expireSubscriptions(ctx: Pick<JobContext, 'db'>, opts: ExpiryOptions = {}): Promise<ExpiryResult> {
  const now = opts.now ?? new Date();
  const target = opts.targetBatchMs ?? 25;
  let size = opts.batchSize ?? 500;
  const result: ExpiryResult = { expired: 0, batches: 0, maxBatchMs: 0 };
  // A SUSPENDED subscription ends at expires_at too (its role already removed); unsuspending cannot revive it after.
  for (const status of ['ACTIVE', 'SUSPENDED'] as const) {
    for (;;) {
      const t0 = performance.now();
      const n = await jobsRepo.expireDueBatch(ctx.db, now, size, status);
      const ms = performance.now() - t0;
      result.batches++;
      result.expired += n;
      result.maxBatchMs = Math.max(result.maxBatchMs, ms);
      if (n < size) break;
      // Aim the next batch at the target duration, moving at most 2x either way per step.
      size = Math.round(Math.min(MAX_BATCH, Math.max(MIN_BATCH, size * Math.min(2, Math.max(0.5, target / Math.max(ms, 1))))));
    }
  }
  return result;
}

export interface ReminderResult {
  /** Reminders due in each window, each owed once (through the DM outbox). */
  sent3d: number;
  sent1d: number;
  /** Of those, not delivered right away (DMs closed, Discord failing, no Discord here): the outbox has the rest. */
  undelivered: number;
}

/**
 * subscription-reminders: a DM 3 days and 1 day before expiry, once each per period. The mark and the owed DM (the
 * DM outbox, src/modules/dms) commit in one transaction, so a rerun or another replica never owes it twice and a
 * crash after the commit cannot lose it: the dm-outbox job sends what this run did not. An extension clears the marks
 * for the new period. The DMs are then sent right away.
 */
export async function remindSubscriptions(ctx: JobContext, opts: { now?: Date; batchSize?: number } = {}): Promise<ReminderResult> {
  const result: ReminderResult = { sent3d: 0, sent1d: 0, undelivered: 0 };
  const now = opts.now ?? new Date();
  const batchSize = opts.batchSize ?? 200;
  for (const which of ['1d', '3d'] as const) {
    for (;;) {
      const { count, keys } = await ctx.db.transaction().execute(async (trx) => {
        const due = await jobsRepo.claimReminders(trx, which, now, batchSize);
        const queued: string[] = [];
        for (const r of due) {
          const key = `billing.reminder.${which}:${r.id}:${r.expires_at.getTime()}`;
          if (await enqueueDm(trx, { key, discordId: r.discord_id, content: reminderText(r) })) queued.push(key);
        }
        return { count: due.length, keys: queued };
      });
      if (which === '3d') result.sent3d += count;
      else result.sent1d += count;
      const sent = await deliverDms({ db: ctx.db, log: ctx.log, dms: ctx.effects.dms }, { keys });
      result.undelivered += keys.length - sent.sent;
      if (count < batchSize) break;
    }
  }
  return result;
}

export function reminderText(r: jobsRepo.Reminder): string {
  const at = Math.floor(r.expires_at.getTime() / 1000);
  const what = r.trial ? 'trial' : 'membership';
  const next = r.auto_renew
    ? 'It renews automatically from your balance shortly before then; keep enough in it (`/balance`), or turn renewal off with `/subscription auto-renew`.'
    : `Run \`/subscribe plan:${r.plan_code}\` to keep it.`;
  return `⏳ Your **${r.plan_name}** ${what} ends <t:${at}:R> (<t:${at}:f>). ${next}`;
}

export interface RenewalResult {
  renewed: number;
  invoiced: number;
  skipped: number;
}

/** How long before expiry an auto-renewing subscription is renewed. */
export const RENEW_AHEAD_HOURS = 12;

/**
 * subscription-renewal: auto-renewing subscriptions expiring within RENEW_AHEAD_HOURS get a renewal invoice through
 * the core service (keyed by subscription and current expiry, so a rerun finds the same invoice) paid from the
 * member's balance when it holds enough — the core extends from the current expiry, not from now. Otherwise the
 * invoice stays open and the member gets one DM with it; a later run pays it if they topped up meanwhile.
 */
export async function renewSubscriptions(ctx: JobContext, opts: { now?: Date; limit?: number } = {}): Promise<RenewalResult> {
  const now = opts.now ?? new Date();
  const limit = opts.limit ?? 1000;
  const result: RenewalResult = { renewed: 0, invoiced: 0, skipped: 0 };
  const billing = ctx.services.billing;
  const currencies = Currencies.fromConfig(ctx.config);
  let after = 0n;
  for (let seen = 0; seen < limit; ) {
    const batch = await jobsRepo.renewalCandidates(ctx.db, now, RENEW_AHEAD_HOURS, Math.min(100, limit - seen), after);
    if (batch.length === 0) break;
    seen += batch.length;
    after = batch.at(-1)!.id;
    for (const s of batch) {
      const user = { discordId: s.discord_id, username: s.username };
      if (s.plan_status !== 'active') {
        result.skipped++;
        continue;
      }
      try {
        const checkout = await billing.subscribe({
          interactionId: `renewal:${s.id}:${s.expires_at.getTime()}`,
          guildId: s.guild_id,
          user,
          plan: s.plan_code,
          cycle: s.cycle,
          currency: s.currency,
        });
        const invoice = checkout.invoice;
        if (!isOpen(invoice)) {
          // Paid (a 100 % coupon) or already closed for this period: the member was told when it was issued.
          if (invoice.status === 'PAID' && !checkout.replayed) result.renewed++;
          else result.skipped++;
          continue;
        }
        try {
          const paid = await billing.payFromBalance(invoice.id, user);
          result.renewed++;
          const until = paid.subscription ? Math.floor(paid.subscription.expires_at.getTime() / 1000) : undefined;
          await ctx.effects.billingRoles?.dm(
            s.discord_id,
            `✅ Your **${checkout.plan.name}** membership renewed from your balance (invoice ${invoice.number}, ${currencies.format(invoice.amount, invoice.currency)})${until ? `; it now runs until <t:${until}:f>` : ''}.`,
          );
        } catch (err) {
          if (!isUserError(err) || err.code !== 'INSUFFICIENT_FUNDS') throw err;
          if (checkout.replayed) {
            result.skipped++;
            continue;
          }
          result.invoiced++;
          const due = currencies.format(invoice.amount - invoice.paid_amount, invoice.currency);
          const pay = checkout.checkoutUrl ? ` Pay on chain: ${checkout.checkoutUrl}` : '';
          await ctx.effects.billingRoles?.dm(
            s.discord_id,
            `🧾 Your **${checkout.plan.name}** membership ends <t:${Math.floor(s.expires_at.getTime() / 1000)}:R> and your balance is short of the renewal. Invoice ${invoice.number}: ${due}. Top up with \`/deposit\` and it renews on the next run, or pay it now.${pay}`,
          );
        }
      } catch (err) {
        result.skipped++;
        ctx.log.warn({ err, subscriptionId: s.id }, 'subscription renewal skipped');
      }
    }
  }
  return result;
}

/**
 * invoice-expiry: open invoices whose quoted amount (rate_locked_until) ran out become EXPIRED through the core
 * transition (partial payments go back to the member's balance, a held coupon use is released), one short
 * transaction each. An invoice payable on chain gets one last look at its reference first (like a /deposit before
 * it closes): a payment whose block time is before rate_locked_until still pays it, even if invoice-watch had not
 * seen it yet — once EXPIRED it could only be credited as late. When that look fails (RPC), the invoice stays open
 * until a later run can look. The member gets one DM per expired invoice, owed by the transaction that expired it.
 */
export async function expireInvoices(ctx: JobContext, opts: { now?: Date; limit?: number } = {}): Promise<{ expired: number; returned: number; paid: number; failed: number }> {
  const now = opts.now ?? new Date();
  const limit = opts.limit ?? 5000;
  const out = { expired: 0, returned: 0, paid: 0, failed: 0 };
  const failed = new Set<bigint>();
  const currencies = Currencies.fromConfig(ctx.config);
  const watcher = new InvoiceWatcher(ctx.db, ctx.services.chain, { notify: ctx.effects.billingPayments }, ctx.log.child({ job: 'invoice-expiry' }));
  while (out.expired + out.paid + failed.size < limit) {
    const due = (await jobsRepo.expiredOpenInvoices(ctx.db, now, 200 + failed.size)).filter((i) => !failed.has(i.id));
    if (due.length === 0) break;
    for (const i of due) {
      try {
        const look = i.recipient !== null ? await watcher.lastLook(i.id) : 'open';
        if (look === 'paid') out.paid++;
        if (look === 'late') out.expired++;
        if (look !== 'open') continue;
        // The member's DM is owed from the expiring transaction on (the DM outbox), then sent right away.
        const key = `billing.invoice-expired:${i.id}`;
        const r = await ctx.db.transaction().execute(async (trx) => {
          const closed = await ctx.services.billing.closeOpenInvoice(trx, i.id, 'EXPIRED');
          if (closed.changed) {
            const returned = closed.returned > 0n ? ` The ${currencies.format(closed.returned, closed.invoice.currency)} you had paid towards it is back in your balance.` : '';
            const content = `⌛ Invoice ${i.number} for **${i.plan_name}** expired unpaid: its quoted amount ran out.${returned} Run \`/subscribe plan:${i.plan_code}\` for a new one.`;
            await enqueueDm(trx, { key, discordId: i.discord_id, content });
          }
          return closed;
        });
        if (r.returned > 0n) out.returned++;
        if (!r.changed) continue;
        out.expired++;
        await deliverDms({ db: ctx.db, log: ctx.log, dms: ctx.effects.dms }, { keys: [key] });
      } catch (err) {
        failed.add(i.id);
        out.failed++;
        ctx.log.error({ err, invoiceId: i.id }, 'invoice could not be expired');
      }
    }
  }
  return out;
}

export interface RoleSyncResult {
  guilds: number;
  grants: number;
  revokes: number;
  drain: RoleOutboxResult;
}

/**
 * role-sync: repairs drift between subscriptions and roles, guild by guild. A member with a live subscription who
 * lacks its role gets a grant; a member holding a plan's role without a live subscription to a plan granting it gets
 * a removal (the role belongs to the plans). Repairs go through the outbox like every other change, then it is
 * drained.
 */
export async function syncRoles(ctx: JobContext): Promise<RoleSyncResult> {
  const discord = ctx.effects.billingRoles;
  const result: RoleSyncResult = { guilds: 0, grants: 0, revokes: 0, drain: { applied: 0, skipped: 0, retried: 0, failed: 0, rejoins: 0 } };
  if (!discord) return result;
  for (const guildId of await jobsRepo.guildsWithPlans(ctx.db)) {
    const members = await discord.guildMembers(guildId).catch((err: unknown) => {
      ctx.log.warn({ err, guildId }, 'role-sync could not list the guild members');
      return undefined;
    });
    if (!members) continue;
    result.guilds++;
    const { planRoles, live } = await jobsRepo.guildRoleHolders(ctx.db, guildId);
    const holds = new Set(live.map((l) => `${l.roleId}:${l.discordId}`));
    const repairs: RepairInsert[] = [];
    for (const l of live) {
      const m = members.get(l.discordId);
      if (m && !m.roleIds.has(l.roleId)) repairs.push({ guildId, discordId: l.discordId, username: m.username, roleId: l.roleId, op: 'add', reason: `role-sync: subscription ${l.subscriptionId} is live` });
    }
    for (const [discordId, m] of members) {
      if (m.bot) continue;
      for (const roleId of m.roleIds) {
        if (planRoles.has(roleId) && !holds.has(`${roleId}:${discordId}`)) {
          repairs.push({ guildId, discordId, username: m.username, roleId, op: 'remove', reason: 'role-sync: no live subscription grants this role' });
        }
      }
    }
    await jobsRepo.enqueueRepairs(ctx.db, repairs);
    result.grants += repairs.filter((r) => r.op === 'add').length;
    result.revokes += repairs.filter((r) => r.op === 'remove').length;
  }
  result.drain = await drainRoleOutbox(ctx);
  return result;
}
