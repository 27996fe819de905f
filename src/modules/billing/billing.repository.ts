import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type {
  BillingInvoicePaymentsTable,
  BillingInvoicesTable,
  BillingRoleChangesTable,
  BillingSubscriptionsTable,
  Cycle,
  InvoiceKind,
  PaymentSource,
  InvoiceStatus,
  RoleOp,
  SubscriptionStatus,
} from './billing.tables';

// Billing's SQL for invoices, payments, subscriptions and the role outbox; what a guild sells (plans, coupons,
// invites) is in billing-catalog.repository.ts and re-exported here. Folder-private (lint enforces it).
export * from './billing-catalog.repository';

type Db = Kysely<DB> | Transaction<DB>;
type Tx = Transaction<DB>;

export type Invoice = Selectable<BillingInvoicesTable>;
export type InvoicePayment = Selectable<BillingInvoicePaymentsTable>;
export type Subscription = Selectable<BillingSubscriptionsTable>;
export type RoleChange = Selectable<BillingRoleChangesTable>;

/** How long one cycle runs; the SQL adds it to a timestamp as calendar months (a year is 12 of them). */
export const CYCLE_MONTHS: Readonly<Record<Cycle, number>> = { month: 1, quarter: 3, half_year: 6, year: 12 };

// ---------------------------------------------------------------- invoices

/** The guild's next invoice number: the counter row is the lock, so numbers are gap-free per committed order. */
export async function nextInvoiceNumber(trx: Tx, guildId: string): Promise<bigint> {
  const row = await trx
    .insertInto('billing_invoice_counters')
    .values({ guild_id: guildId, last_number: '1' })
    .onConflict((oc) => oc.column('guild_id').doUpdateSet({ last_number: sql`billing_invoice_counters.last_number + 1` }))
    .returning('last_number')
    .executeTakeFirstOrThrow();
  return BigInt(row.last_number);
}

export interface InvoiceInsert {
  guildId: string;
  number: string;
  userId: bigint;
  planId: bigint;
  cycle: Cycle;
  kind: InvoiceKind;
  currency: string;
  mint: string | null;
  subtotal: bigint;
  discount: bigint;
  couponId: bigint | null;
  inviteId: bigint | null;
  reference: string;
  recipient: string | null;
  rateLockedUntil: Date;
  interactionId: string | null;
}

/** Undefined when an invoice for that interaction already exists (a retried /subscribe). */
export async function insertInvoice(trx: Tx, i: InvoiceInsert): Promise<Invoice | undefined> {
  return trx
    .insertInto('billing_invoices')
    .values({
      guild_id: i.guildId,
      number: i.number,
      user_id: i.userId,
      plan_id: i.planId,
      cycle: i.cycle,
      kind: i.kind,
      currency: i.currency,
      mint: i.mint,
      subtotal: i.subtotal.toString(),
      discount: i.discount.toString(),
      amount: (i.subtotal - i.discount).toString(),
      coupon_id: i.couponId,
      invite_id: i.inviteId,
      reference: i.reference,
      recipient: i.recipient,
      rate_locked_until: i.rateLockedUntil,
      interaction_id: i.interactionId,
    })
    .onConflict((oc) => oc.constraint('billing_invoices_interaction_key').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findInvoice(db: Db, id: bigint): Promise<Invoice | undefined> {
  return db.selectFrom('billing_invoices').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findInvoiceByInteraction(db: Db, interactionId: string): Promise<Invoice | undefined> {
  return db.selectFrom('billing_invoices').selectAll().where('interaction_id', '=', interactionId).executeTakeFirst();
}

export async function findInvoiceByReference(db: Db, reference: string): Promise<Invoice | undefined> {
  return db.selectFrom('billing_invoices').selectAll().where('reference', '=', reference).executeTakeFirst();
}

/** The invoice row locked for the rest of the transaction: every status or paid_amount change goes through this. */
export async function lockInvoice(trx: Tx, id: bigint): Promise<Invoice | undefined> {
  return trx.selectFrom('billing_invoices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function setInvoicePaidAmount(trx: Tx, id: bigint, paidAmount: bigint, paid: boolean): Promise<Invoice> {
  return trx
    .updateTable('billing_invoices')
    .set({ paid_amount: paidAmount.toString(), status: paid ? 'PAID' : 'PENDING', ...(paid && { paid_at: sql`now()` }) })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function setInvoiceSubscription(trx: Tx, id: bigint, subscriptionId: bigint): Promise<void> {
  await trx.updateTable('billing_invoices').set({ subscription_id: subscriptionId }).where('id', '=', id).execute();
}

export async function closeInvoice(trx: Tx, id: bigint, status: 'EXPIRED' | 'CANCELED'): Promise<Invoice> {
  return trx
    .updateTable('billing_invoices')
    .set(status === 'EXPIRED' ? { status, expired_at: sql`now()` } : { status, canceled_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function markInvoiceRefunded(trx: Tx, id: bigint, amount: bigint): Promise<Invoice> {
  return trx
    .updateTable('billing_invoices')
    .set({ status: 'REFUNDED', refunded_at: sql`now()`, refunded_amount: amount > 0n ? amount.toString() : null })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface PaymentInsert {
  invoiceId: bigint;
  userId: bigint;
  source: PaymentSource;
  paymentKey: string;
  signature: string | null;
  currency: string;
  amount: bigint;
  applied: bigint;
  credited: bigint;
}

/** Undefined when the payment key or the signature was already recorded: that payment happened already. */
export async function insertPayment(trx: Tx, p: PaymentInsert): Promise<InvoicePayment | undefined> {
  return trx
    .insertInto('billing_invoice_payments')
    .values({
      invoice_id: p.invoiceId,
      user_id: p.userId,
      source: p.source,
      payment_key: p.paymentKey,
      signature: p.signature,
      currency: p.currency,
      amount: p.amount.toString(),
      applied_amount: p.applied.toString(),
      credited_amount: p.credited.toString(),
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findPayment(db: Db, paymentKey: string, signature: string | null): Promise<InvoicePayment | undefined> {
  return db
    .selectFrom('billing_invoice_payments')
    .selectAll()
    .where((eb) => (signature === null ? eb('payment_key', '=', paymentKey) : eb.or([eb('payment_key', '=', paymentKey), eb('signature', '=', signature)])))
    .executeTakeFirst();
}

export async function paymentsOf(db: Db, invoiceId: bigint): Promise<InvoicePayment[]> {
  return db.selectFrom('billing_invoice_payments').selectAll().where('invoice_id', '=', invoiceId).orderBy('id').execute();
}

// ---------------------------------------------------------------- subscriptions

/** The member's live (ACTIVE or SUSPENDED) subscription to the plan, locked. */
export async function lockLiveSubscription(trx: Tx, userId: bigint, planId: bigint): Promise<Subscription | undefined> {
  return trx
    .selectFrom('billing_subscriptions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('plan_id', '=', planId)
    .where('status', 'in', ['ACTIVE', 'SUSPENDED'])
    .forUpdate()
    .executeTakeFirst();
}

export async function lockSubscription(trx: Tx, id: bigint): Promise<Subscription | undefined> {
  return trx.selectFrom('billing_subscriptions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function findSubscription(db: Db, id: bigint): Promise<Subscription | undefined> {
  return db.selectFrom('billing_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A period: whole cycles (calendar months) or, for a trial, days. */
export type Period = { cycle: Cycle; count?: number } | { days: number };

function interval(p: Period) {
  return 'days' in p ? sql`make_interval(days => ${p.days}::int)` : sql`make_interval(months => ${CYCLE_MONTHS[p.cycle] * (p.count ?? 1)}::int)`;
}

export interface SubscriptionInsert {
  guildId: string;
  userId: bigint;
  planId: bigint;
  cycle: Cycle;
  currency: string;
  trial: boolean;
  period: Period;
  invoiceId: bigint | null;
}

/** Undefined when a live subscription for (member, plan) exists (possibly inserted concurrently): extend that one. */
export async function insertSubscription(trx: Tx, s: SubscriptionInsert): Promise<Subscription | undefined> {
  return trx
    .insertInto('billing_subscriptions')
    .values({
      guild_id: s.guildId,
      user_id: s.userId,
      plan_id: s.planId,
      cycle: s.cycle,
      currency: s.currency,
      trial: s.trial,
      // A trial never charges the balance when it ends unless the member turns renewal on (/subscription auto-renew).
      auto_renew: !s.trial,
      active_since: sql`now()`,
      expires_at: sql`now() + ${interval(s.period)}`,
      last_invoice_id: s.invoiceId,
    })
    .onConflict((oc) => oc.columns(['user_id', 'plan_id']).where('status', 'in', ['ACTIVE', 'SUSPENDED']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Renewal: from the current expiry (or now, if that already passed), never from now while time is left. */
export async function extendSubscription(trx: Tx, id: bigint, period: Period, invoiceId: bigint | null, cycle?: Cycle): Promise<Subscription> {
  return trx
    .updateTable('billing_subscriptions')
    .set({
      expires_at: sql`greatest(expires_at, now()) + ${interval(period)}`,
      reminded_3d_at: null,
      reminded_1d_at: null,
      ...(invoiceId !== null && { last_invoice_id: invoiceId, trial: false }),
      ...(cycle !== undefined && { cycle }),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function setSubscriptionStatus(trx: Tx, id: bigint, status: SubscriptionStatus, reason: string | null = null): Promise<Subscription> {
  return trx
    .updateTable('billing_subscriptions')
    .set({
      status,
      inactive_since: status === 'ACTIVE' ? null : sql`coalesce(inactive_since, now())`,
      suspended_reason: status === 'SUSPENDED' ? reason : null,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function setRenewal(trx: Tx, id: bigint, autoRenew: boolean): Promise<Subscription> {
  return trx
    .updateTable('billing_subscriptions')
    .set({ auto_renew: autoRenew, cancel_requested_at: autoRenew ? null : sql`coalesce(cancel_requested_at, now())` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Atomic trial claim: false when the member already had a trial in this guild. */
export async function claimTrial(trx: Tx, guildId: string, userId: bigint, planId: bigint): Promise<boolean> {
  const row = await trx
    .insertInto('billing_trial_uses')
    .values({ guild_id: guildId, user_id: userId, plan_id: planId })
    .onConflict((oc) => oc.columns(['guild_id', 'user_id']).doNothing())
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function setTrialSubscription(trx: Tx, guildId: string, userId: bigint, subscriptionId: bigint): Promise<void> {
  await trx.updateTable('billing_trial_uses').set({ subscription_id: subscriptionId }).where('guild_id', '=', guildId).where('user_id', '=', userId).execute();
}

// ---------------------------------------------------------------- role-change outbox

export interface RoleChangeInsert {
  guildId: string;
  userId: bigint;
  roleId: string;
  op: RoleOp;
  reason: string;
  subscriptionId: bigint | null;
}

export async function enqueueRoleChange(trx: Tx, c: RoleChangeInsert): Promise<RoleChange> {
  return trx
    .insertInto('billing_role_changes')
    .values({ guild_id: c.guildId, user_id: c.userId, role_id: c.roleId, op: c.op, reason: c.reason, subscription_id: c.subscriptionId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export type DueRoleChange = RoleChange & { discord_id: string };

// ---------------------------------------------------------------- lists

export interface InvoiceFilter {
  guildId?: string;
  userId?: bigint;
  status?: InvoiceStatus;
  beforeId?: bigint;
  limit: number;
}

export async function listInvoices(db: Db, f: InvoiceFilter): Promise<Invoice[]> {
  let q = db.selectFrom('billing_invoices').selectAll().orderBy('id', 'desc').limit(f.limit);
  if (f.guildId !== undefined) q = q.where('guild_id', '=', f.guildId);
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
  return q.execute();
}

export interface SubscriptionFilter {
  guildId?: string;
  userId?: bigint;
  planId?: bigint;
  status?: SubscriptionStatus;
  beforeId?: bigint;
  limit: number;
}

export async function listSubscriptions(db: Db, f: SubscriptionFilter): Promise<Subscription[]> {
  let q = db.selectFrom('billing_subscriptions').selectAll().orderBy('id', 'desc').limit(f.limit);
  if (f.guildId !== undefined) q = q.where('guild_id', '=', f.guildId);
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  if (f.planId !== undefined) q = q.where('plan_id', '=', f.planId);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
  return q.execute();
}

/** Staff extension: days added to a live subscription's expiry (from its expiry, like a renewal). */
export async function addDays(trx: Tx, id: bigint, days: number): Promise<Subscription> {
  return trx
    .updateTable('billing_subscriptions')
    .set({ expires_at: sql`greatest(expires_at, now()) + make_interval(days => ${days}::int)`, reminded_3d_at: null, reminded_1d_at: null })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function discordIdOf(db: Db, userId: bigint): Promise<string | undefined> {
  return (await db.selectFrom('users').select('discord_id').where('id', '=', userId).executeTakeFirst())?.discord_id;
}
