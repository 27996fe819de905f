import type { Transaction } from 'kysely';
import { claimChainCredit, SignatureAlreadyCredited } from '../../db/chain-credits';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import * as ledger from '../ledger/ledger.postings';
import * as repo from './billing.repository';
import type { Invoice, InvoicePayment, Period, Subscription } from './billing.repository';
import type { Cycle, PaymentSource, SubscriptionStatus } from './billing.tables';

/**
 * The core transitions of billing, each inside the caller's transaction (a Discord click, the invoice-watch job, the
 * expiry jobs, an admin request), so the money, the invoice, the subscription and the role-change outbox row commit
 * or roll back together. The invoice row is locked first in every path that changes it (lock order: invoice →
 * subscription → balance rows → revenue row), so two payments, a payment and the expiry job, or a double click
 * serialize on it.
 */

type Tx = Transaction<DB>;

export const OPEN_INVOICE = ['CREATED', 'PENDING'] as const;
export const isOpen = (i: Pick<Invoice, 'status'>) => (OPEN_INVOICE as readonly string[]).includes(i.status);

export interface PaymentInput {
  /** Base units received (chain) or to take from the balance (balance; defaults to what is still due). */
  amount?: bigint;
  source: PaymentSource;
  /** Chain payments: the transaction signature. One signature pays once, whichever invoice it names. */
  signature?: string;
  /** Balance payments: the claim that makes a retry a no-op; defaults to `balance:<invoice id>` (one per invoice). */
  idempotencyKey?: string;
  /** When the money moved (chain: the block time). A payment at or after rate_locked_until is late. */
  at?: Date;
}

export type PaymentOutcome = 'paid' | 'partial' | 'late' | 'replayed';

export interface PaymentResult {
  outcome: PaymentOutcome;
  invoice: Invoice;
  payment: InvoicePayment | undefined;
  /** What went to the invoice (and so to the guild's revenue). */
  applied: bigint;
  /** What was credited to the member's balance instead (an overpayment's excess, or a late payment). */
  credited: bigint;
  /** Set when this payment completed the invoice. */
  subscription?: Subscription;
}

/**
 * Applies a payment to an invoice. Chain payments arrive as an `invoice_deposit` inflow to the member's balance; the
 * part the open invoice still needs then moves to the guild's revenue (`subscription_payment`) — partial payments
 * add up, an overpayment's excess and a payment to an invoice that is no longer open (or arrives after
 * rate_locked_until, which expires the invoice first) stay in the member's balance and activate nothing. Balance
 * payments take what is still due from the balance and are refused (UserError, nothing written) when the invoice is
 * not open or the balance is short. A payment key or signature seen before returns `replayed` and changes nothing.
 * The payment that completes the invoice marks it PAID and activates or extends the subscription.
 */
export async function applyPayment(trx: Tx, invoiceId: bigint, p: PaymentInput): Promise<PaymentResult> {
  let invoice = await repo.lockInvoice(trx, invoiceId);
  if (!invoice) throw new UserError('INVOICE_NOT_FOUND', `There is no invoice #${invoiceId}.`);
  const chain = p.source === 'chain';
  if (chain && !p.signature) throw new Error('a chain payment needs its signature');
  const key = chain ? p.signature! : (p.idempotencyKey ?? `balance:${invoice.id}`);
  const seen = await repo.findPayment(trx, key, chain ? p.signature! : null);
  if (seen) return { outcome: 'replayed', invoice, payment: seen, applied: 0n, credited: 0n };
  // One signature, one credit across invoices and /deposits (a transaction may name both references). Claimed before
  // anything is written; a claim lost to another invoice's payment is a replay, one lost to a deposit is refused.
  if (chain && !(await claimChainCredit(trx, p.signature!, 'invoice'))) {
    const other = await repo.findPayment(trx, key, p.signature!);
    if (other) return { outcome: 'replayed', invoice, payment: other, applied: 0n, credited: 0n };
    throw new SignatureAlreadyCredited(p.signature!);
  }

  const at = p.at ?? new Date();
  if (isOpen(invoice) && at.getTime() >= invoice.rate_locked_until.getTime()) {
    if (!chain) throw invoiceClosed({ ...invoice, status: 'EXPIRED' });
    invoice = (await closeOpenInvoice(trx, invoice.id, 'EXPIRED')).invoice;
  }
  const due = isOpen(invoice) ? invoice.amount - invoice.paid_amount : 0n;
  if (!chain) {
    if (due === 0n) {
      if (invoice.status === 'PAID') return { outcome: 'replayed', invoice, payment: undefined, applied: 0n, credited: 0n };
      throw invoiceClosed(invoice);
    }
    if (p.amount !== undefined && p.amount !== due) throw new Error(`a balance payment takes exactly what is due (${due}), not ${p.amount}`);
  }
  const amount = chain ? p.amount : due;
  if (amount === undefined || amount <= 0n) throw new Error('a payment amount must be positive');
  const applied = amount < due ? amount : due;
  const credited = amount - applied;

  const payment = await repo.insertPayment(trx, {
    invoiceId: invoice.id,
    userId: invoice.user_id,
    source: p.source,
    paymentKey: key,
    signature: chain ? p.signature! : null,
    currency: invoice.currency,
    amount,
    applied,
    credited,
  });
  // A concurrent transaction recorded the same key first; it committed before our insert returned.
  if (!payment) return { outcome: 'replayed', invoice, payment: await repo.findPayment(trx, key, p.signature ?? null), applied: 0n, credited: 0n };

  if (chain) {
    await ledger.postInflow(trx, {
      type: 'invoice_deposit',
      userId: invoice.user_id,
      currency: invoice.currency,
      amount,
      idempotencyKey: `invoice-deposit:${key}`,
      ref: `invoice:${invoice.id}`,
    });
  }
  if (applied === 0n) return { outcome: 'late', invoice, payment, applied, credited };

  const moved = await ledger.postToRevenue(trx, {
    userId: invoice.user_id,
    guildId: invoice.guild_id,
    currency: invoice.currency,
    amount: applied,
    idempotencyKey: `subscription-payment:${key}`,
    ref: `invoice:${invoice.id}`,
  });
  if (!moved.ok) throw new InsufficientBalance(applied, moved.balance, invoice.currency);

  const paidAmount = invoice.paid_amount + applied;
  const complete = paidAmount >= invoice.amount;
  invoice = await repo.setInvoicePaidAmount(trx, invoice.id, paidAmount, complete);
  if (!complete) return { outcome: 'partial', invoice, payment, applied, credited };
  const { subscription, invoice: settled } = await settlePaidInvoice(trx, invoice);
  return { outcome: 'paid', invoice: settled, payment, applied, credited, subscription };
}

/** A balance short of what is due; the service words it with the currency's formatting. */
export class InsufficientBalance extends Error {
  constructor(
    readonly needed: bigint,
    readonly balance: bigint,
    readonly currency: string,
  ) {
    super(`insufficient balance: need ${needed}, have ${balance} ${currency}`);
  }
}

export function invoiceClosed(invoice: Pick<Invoice, 'status' | 'number'>): UserError {
  switch (invoice.status) {
    case 'PAID':
      return new UserError('INVOICE_PAID', `Invoice ${invoice.number} is already paid.`);
    case 'EXPIRED':
      return new UserError('INVOICE_EXPIRED', `Invoice ${invoice.number} has expired — run /subscribe again for a new one.`);
    case 'CANCELED':
      return new UserError('INVOICE_CANCELED', `Invoice ${invoice.number} was canceled.`);
    case 'REFUNDED':
      return new UserError('INVOICE_REFUNDED', `Invoice ${invoice.number} was refunded.`);
    default:
      return new UserError('INVOICE_STATE', `Invoice ${invoice.number} is ${invoice.status.toLowerCase()}.`);
  }
}

/**
 * What a fully paid invoice sets off: its invite is accepted, and the subscription is activated or extended (one
 * cycle) with the role grant queued. Called by {@link applyPayment}, and for an invoice a coupon made free.
 */
export async function settlePaidInvoice(trx: Tx, invoice: Invoice): Promise<{ invoice: Invoice; subscription: Subscription }> {
  if (invoice.invite_id !== null) await repo.acceptInvite(trx, invoice.invite_id);
  const { subscription } = await activateOrExtendSubscription(trx, {
    guildId: invoice.guild_id,
    userId: invoice.user_id,
    planId: invoice.plan_id,
    cycle: invoice.cycle,
    currency: invoice.currency,
    period: { cycle: invoice.cycle },
    invoiceId: invoice.id,
    trial: false,
  });
  await repo.setInvoiceSubscription(trx, invoice.id, subscription.id);
  return { invoice: { ...invoice, subscription_id: subscription.id }, subscription };
}

export interface Activation {
  guildId: string;
  userId: bigint;
  planId: bigint;
  cycle: Cycle;
  currency: string;
  period: Period;
  invoiceId: bigint | null;
  trial: boolean;
}

/**
 * Starts the member's subscription to the plan, or extends the live one from its current expiry (not from now), and
 * queues the role grant in the same transaction. A SUSPENDED subscription is extended but gets no grant: staff lift
 * the suspension. Safe against a concurrent activation of the same (member, plan): the partial unique index turns
 * the second insert into an extension.
 */
export async function activateOrExtendSubscription(trx: Tx, a: Activation): Promise<{ subscription: Subscription; created: boolean }> {
  const plan = await repo.findPlan(trx, a.planId);
  if (!plan) throw new Error(`plan ${a.planId} does not exist`);
  let created = false;
  let subscription = await repo.lockLiveSubscription(trx, a.userId, a.planId);
  if (!subscription) {
    subscription = await repo.insertSubscription(trx, { ...a });
    created = subscription !== undefined;
    subscription ??= await repo.lockLiveSubscription(trx, a.userId, a.planId);
    if (!subscription) throw new Error(`subscription of user ${a.userId} to plan ${a.planId} vanished`);
  }
  if (!created) subscription = await repo.extendSubscription(trx, subscription.id, a.period, a.invoiceId, a.invoiceId !== null ? a.cycle : undefined);
  if (subscription.status === 'ACTIVE') {
    await repo.enqueueRoleChange(trx, {
      guildId: plan.guild_id,
      userId: a.userId,
      roleId: plan.role_id,
      op: 'add',
      reason: created ? `subscription ${subscription.id} activated` : `subscription ${subscription.id} extended`,
      subscriptionId: subscription.id,
    });
  }
  return { subscription, created };
}

/**
 * Ends a live subscription (EXPIRED or CANCELED, both final) and queues the role's removal. Undefined when it was
 * not live. The removal is skipped at drain time if another live subscription still grants the same role.
 */
export async function endSubscription(trx: Tx, subscriptionId: bigint, status: Extract<SubscriptionStatus, 'EXPIRED' | 'CANCELED'>, reason: string): Promise<Subscription | undefined> {
  const current = await repo.lockSubscription(trx, subscriptionId);
  if (!current || (current.status !== 'ACTIVE' && current.status !== 'SUSPENDED')) return undefined;
  const ended = await repo.setSubscriptionStatus(trx, subscriptionId, status);
  await queueRevoke(trx, ended, reason);
  return ended;
}

export async function queueRevoke(trx: Tx, s: Subscription, reason: string): Promise<void> {
  const plan = await repo.findPlan(trx, s.plan_id);
  if (!plan) throw new Error(`plan ${s.plan_id} does not exist`);
  await repo.enqueueRoleChange(trx, { guildId: plan.guild_id, userId: s.user_id, roleId: plan.role_id, op: 'remove', reason, subscriptionId: s.id });
}

/**
 * Closes an open invoice (EXPIRED by the invoice-expiry job or a late payment, CANCELED by the member or staff):
 * what partial payments had moved to the guild's revenue goes back to the member's balance (`subscription_refund`),
 * and a coupon use it held is released. `changed` is false when it was no longer open.
 */
export async function closeOpenInvoice(trx: Tx, invoiceId: bigint, status: 'EXPIRED' | 'CANCELED'): Promise<{ invoice: Invoice; changed: boolean; returned: bigint }> {
  const invoice = await repo.lockInvoice(trx, invoiceId);
  if (!invoice) throw new UserError('INVOICE_NOT_FOUND', `There is no invoice #${invoiceId}.`);
  if (!isOpen(invoice)) return { invoice, changed: false, returned: 0n };
  if (invoice.paid_amount > 0n) await returnRevenue(trx, invoice, invoice.paid_amount, `invoice-release:${invoice.id}`);
  await repo.releaseCoupon(trx, invoice.id);
  return { invoice: await repo.closeInvoice(trx, invoice.id, status), changed: true, returned: invoice.paid_amount };
}

/**
 * Refunds a PAID invoice to the member's balance (journalled from the guild's revenue), marks it REFUNDED and ends
 * the subscription it paid for (CANCELED, role removal queued).
 */
export async function refundInvoice(trx: Tx, invoiceId: bigint, reason: string): Promise<{ invoice: Invoice; subscription: Subscription | undefined }> {
  const invoice = await repo.lockInvoice(trx, invoiceId);
  if (!invoice) throw new UserError('INVOICE_NOT_FOUND', `There is no invoice #${invoiceId}.`);
  if (invoice.status !== 'PAID') {
    throw new UserError('INVOICE_NOT_PAID', `Invoice ${invoice.number} is ${invoice.status.toLowerCase()}; only a paid invoice can be refunded.`);
  }
  if (invoice.paid_amount > 0n) await returnRevenue(trx, invoice, invoice.paid_amount, `invoice-refund:${invoice.id}`);
  const refunded = await repo.markInvoiceRefunded(trx, invoice.id, invoice.paid_amount);
  const subscription = invoice.subscription_id === null ? undefined : await endSubscription(trx, invoice.subscription_id, 'CANCELED', `invoice ${invoice.number} refunded: ${reason}`);
  return { invoice: refunded, subscription };
}

async function returnRevenue(trx: Tx, invoice: Invoice, amount: bigint, key: string): Promise<void> {
  const journalId = await ledger.postFromRevenue(trx, {
    userId: invoice.user_id,
    guildId: invoice.guild_id,
    currency: invoice.currency,
    amount,
    idempotencyKey: key,
    ref: `invoice:${invoice.id}`,
  });
  if (journalId === undefined) {
    throw new UserError('REVENUE_SHORT', `The server's revenue holds less than the ${invoice.number} payment; it cannot be returned from there.`);
  }
}
