import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import { writeAudit, type AuditActor } from '../guilds/guilds.audit';
import * as ledger from '../ledger/ledger.postings';
import * as core from './billing.payments';
import * as repo from './billing.repository';
import type { Invoice, InvoiceFilter, Subscription, SubscriptionFilter } from './billing.repository';

type Tx = Transaction<DB>;

/**
 * What staff and operators do to invoices and subscriptions after the sale: refund, cancel, extend, suspend. Each
 * method takes the guild the caller has authority in (`null` = an operator, any guild): another guild's invoice or
 * subscription is "not found", never acted on. Every change writes its audit row in the change's own transaction.
 */
export class BillingStaff {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Refunds a PAID invoice to the member's balance (journalled from the guild's revenue) and ends the subscription
   * it paid for at once (CANCELED, role removal queued). Operators or the guild's owner (the caller checks which).
   */
  async refund(actor: AuditActor, guildId: string | null, invoiceId: bigint, reason: string): Promise<{ invoice: Invoice; subscription: Subscription | undefined }> {
    return this.db.transaction().execute(async (trx) => {
      const before = await this.ownInvoice(trx, guildId, invoiceId);
      const out = await core.refundInvoice(trx, invoiceId, reason);
      await writeAudit(trx, {
        actor,
        guildId: before.guild_id,
        action: 'billing.invoice_refund',
        target: `invoice:${invoiceId}`,
        before: { status: before.status, paidAmount: before.paid_amount, currency: before.currency },
        after: { status: out.invoice.status, subscription: out.subscription?.status ?? null },
        reason,
      });
      return out;
    });
  }

  /** Cancels an open invoice; partial payments go back to the member's balance, the coupon use is released. */
  async cancelInvoice(actor: AuditActor, guildId: string | null, invoiceId: bigint, reason: string | null = null): Promise<Invoice> {
    return this.db.transaction().execute(async (trx) => {
      const before = await this.ownInvoice(trx, guildId, invoiceId);
      const { invoice, changed } = await core.closeOpenInvoice(trx, invoiceId, 'CANCELED');
      if (!changed) throw core.invoiceClosed(invoice);
      await writeAudit(trx, { actor, guildId: before.guild_id, action: 'billing.invoice_cancel', target: `invoice:${invoiceId}`, before: { status: before.status }, after: { status: invoice.status }, reason });
      return invoice;
    });
  }

  /** Adds days to a live subscription (from its current expiry); an ACTIVE one gets its role grant queued again. */
  async extend(actor: AuditActor, guildId: string | null, subscriptionId: bigint, days: number, reason: string | null = null): Promise<Subscription> {
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new UserError('BAD_DAYS', 'Extend by a whole number of days from 1 to 3650.');
    return this.db.transaction().execute(async (trx) => {
      const before = await this.liveSubscription(trx, guildId, subscriptionId);
      const after = await repo.addDays(trx, subscriptionId, days);
      if (after.status === 'ACTIVE') await grant(trx, after, `subscription ${after.id} extended by staff`);
      await writeAudit(trx, { actor, guildId: after.guild_id, action: 'billing.subscription_extend', target: `subscription:${after.id}`, before: { expiresAt: before.expires_at }, after: { expiresAt: after.expires_at }, reason });
      return after;
    });
  }

  /** Ends a live subscription now (CANCELED) and queues the role removal. Its invoices are not refunded. */
  async cancel(actor: AuditActor, guildId: string | null, subscriptionId: bigint, reason: string | null = null): Promise<Subscription> {
    return this.db.transaction().execute(async (trx) => {
      const before = await this.liveSubscription(trx, guildId, subscriptionId);
      const after = (await core.endSubscription(trx, subscriptionId, 'CANCELED', `canceled by staff${reason ? `: ${reason}` : ''}`))!;
      await writeAudit(trx, { actor, guildId: after.guild_id, action: 'billing.subscription_cancel', target: `subscription:${after.id}`, before: { status: before.status }, after: { status: after.status }, reason });
      return after;
    });
  }

  /**
   * ACTIVE → SUSPENDED (role removed; time keeps running) or back (role granted again). The only way into or out of
   * SUSPENDED: no job or payment ever suspends or lifts a suspension.
   */
  async setSuspended(actor: AuditActor, guildId: string | null, subscriptionId: bigint, suspended: boolean, reason: string | null = null): Promise<Subscription> {
    return this.db.transaction().execute(async (trx) => {
      const before = await this.liveSubscription(trx, guildId, subscriptionId);
      const wanted = suspended ? 'SUSPENDED' : 'ACTIVE';
      if (before.status === wanted) {
        throw new UserError('SUBSCRIPTION_STATE', `Subscription #${subscriptionId} is already ${wanted.toLowerCase()}.`);
      }
      const after = await repo.setSubscriptionStatus(trx, subscriptionId, wanted, reason);
      if (suspended) await core.queueRevoke(trx, after, `subscription ${after.id} suspended by staff`);
      else await grant(trx, after, `subscription ${after.id} unsuspended by staff`);
      await writeAudit(trx, {
        actor,
        guildId: after.guild_id,
        action: suspended ? 'billing.subscription_suspend' : 'billing.subscription_unsuspend',
        target: `subscription:${after.id}`,
        before: { status: before.status },
        after: { status: after.status },
        reason,
      });
      return after;
    });
  }

  invoices(f: InvoiceFilter): Promise<Invoice[]> {
    return repo.listInvoices(this.db, f);
  }

  subscriptions(f: SubscriptionFilter): Promise<Subscription[]> {
    return repo.listSubscriptions(this.db, f);
  }

  /** Per currency, what the guild's revenue account holds (every guild's without one). */
  revenue(guildId?: string): Promise<Map<string, bigint>> {
    return ledger.revenueOf(this.db, guildId);
  }

  private async ownInvoice(db: Kysely<DB> | Tx, guildId: string | null, id: bigint): Promise<Invoice> {
    const invoice = await repo.findInvoice(db, id);
    if (!invoice || (guildId !== null && invoice.guild_id !== guildId)) throw new UserError('INVOICE_NOT_FOUND', `There is no invoice #${id} on this server.`);
    return invoice;
  }

  private async liveSubscription(trx: Tx, guildId: string | null, id: bigint): Promise<Subscription> {
    const s = await repo.lockSubscription(trx, id);
    if (!s || (guildId !== null && s.guild_id !== guildId)) throw new UserError('SUBSCRIPTION_NOT_FOUND', `There is no subscription #${id} on this server.`);
    if (s.status !== 'ACTIVE' && s.status !== 'SUSPENDED') throw new UserError('SUBSCRIPTION_STATE', `Subscription #${id} has ended (${s.status.toLowerCase()}).`);
    return s;
  }
}

async function grant(trx: Tx, s: Subscription, reason: string): Promise<void> {
  const plan = (await repo.findPlan(trx, s.plan_id))!;
  await repo.enqueueRoleChange(trx, { guildId: plan.guild_id, userId: s.user_id, roleId: plan.role_id, op: 'add', reason, subscriptionId: s.id });
}
