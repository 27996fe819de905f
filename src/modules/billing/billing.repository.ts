import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type {
  BillingCouponDiscountsTable,
  BillingCouponsTable,
  BillingInvitesTable,
  BillingInvoicePaymentsTable,
  BillingInvoicesTable,
  BillingPlanPricesTable,
  BillingPlansTable,
  BillingRoleChangesTable,
  BillingSubscriptionsTable,
  Cycle,
  InvoiceKind,
  PaymentSource,
  RoleOp,
  SubscriptionStatus,
} from './billing.tables';

// All of billing's SQL. Folder-private: other modules go through the billing service (lint enforces it).

type Db = Kysely<DB> | Transaction<DB>;
type Tx = Transaction<DB>;

export type Plan = Selectable<BillingPlansTable>;
export type PlanPrice = Selectable<BillingPlanPricesTable>;
export type Coupon = Selectable<BillingCouponsTable>;
export type CouponDiscount = Selectable<BillingCouponDiscountsTable>;
export type Invite = Selectable<BillingInvitesTable>;
export type Invoice = Selectable<BillingInvoicesTable>;
export type InvoicePayment = Selectable<BillingInvoicePaymentsTable>;
export type Subscription = Selectable<BillingSubscriptionsTable>;
export type RoleChange = Selectable<BillingRoleChangesTable>;

/** How long one cycle runs; the SQL adds it to a timestamp as calendar months (a year is 12 of them). */
export const CYCLE_MONTHS: Readonly<Record<Cycle, number>> = { month: 1, quarter: 3, half_year: 6, year: 12 };

// ---------------------------------------------------------------- plans

export interface PlanInput {
  guildId: string;
  code: string;
  name: string;
  description: string;
  features: string[];
  roleId: string;
  trialDays: number;
  inviteOnly: boolean;
  createdBy: string | null;
}

export interface PriceInput {
  cycle: Cycle;
  currency: string;
  price: bigint;
  discountPercent: number;
}

/** Undefined when the guild already has a plan with that code. */
export async function insertPlan(db: Db, p: PlanInput): Promise<Plan | undefined> {
  return db
    .insertInto('billing_plans')
    .values({
      guild_id: p.guildId,
      code: p.code,
      name: p.name,
      description: p.description,
      features: p.features,
      role_id: p.roleId,
      trial_days: p.trialDays,
      invite_only: p.inviteOnly,
      created_by: p.createdBy,
    })
    .onConflict((oc) => oc.constraint('billing_plans_guild_code_key').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function updatePlan(db: Db, id: bigint, p: Partial<Omit<PlanInput, 'guildId' | 'code' | 'createdBy'>>): Promise<Plan | undefined> {
  return db
    .updateTable('billing_plans')
    .set({
      ...(p.name !== undefined && { name: p.name }),
      ...(p.description !== undefined && { description: p.description }),
      ...(p.features !== undefined && { features: p.features }),
      ...(p.roleId !== undefined && { role_id: p.roleId }),
      ...(p.trialDays !== undefined && { trial_days: p.trialDays }),
      ...(p.inviteOnly !== undefined && { invite_only: p.inviteOnly }),
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function archivePlan(db: Db, id: bigint): Promise<Plan | undefined> {
  return db
    .updateTable('billing_plans')
    .set({ status: 'archived', archived_at: sql`now()` })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .returningAll()
    .executeTakeFirst();
}

/** Replaces the prices of the (cycle, currency) pairs given; other pairs stay. */
export async function upsertPrices(db: Db, planId: bigint, prices: readonly PriceInput[]): Promise<void> {
  if (prices.length === 0) return;
  await db
    .insertInto('billing_plan_prices')
    .values(prices.map((p) => ({ plan_id: planId, cycle: p.cycle, currency: p.currency, price: p.price.toString(), discount_percent: p.discountPercent })))
    .onConflict((oc) =>
      oc.constraint('billing_plan_prices_key').doUpdateSet((eb) => ({ price: eb.ref('excluded.price'), discount_percent: eb.ref('excluded.discount_percent') })),
    )
    .execute();
}

export async function findPlanByCode(db: Db, guildId: string, code: string): Promise<Plan | undefined> {
  return db.selectFrom('billing_plans').selectAll().where('guild_id', '=', guildId).where('code', '=', code).executeTakeFirst();
}

export async function findPlan(db: Db, id: bigint): Promise<Plan | undefined> {
  return db.selectFrom('billing_plans').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listPlans(db: Db, q: { guildId?: string; includeArchived?: boolean; limit?: number }): Promise<Plan[]> {
  let query = db.selectFrom('billing_plans').selectAll().orderBy('guild_id').orderBy('code').limit(q.limit ?? 100);
  if (q.guildId !== undefined) query = query.where('guild_id', '=', q.guildId);
  if (!q.includeArchived) query = query.where('status', '=', 'active');
  return query.execute();
}

export async function pricesOf(db: Db, planIds: readonly bigint[]): Promise<PlanPrice[]> {
  if (planIds.length === 0) return [];
  return db.selectFrom('billing_plan_prices').selectAll().where('plan_id', 'in', planIds).orderBy('plan_id').orderBy('id').execute();
}

export async function findPrice(db: Db, planId: bigint, cycle: Cycle, currency: string): Promise<PlanPrice | undefined> {
  return db.selectFrom('billing_plan_prices').selectAll().where('plan_id', '=', planId).where('cycle', '=', cycle).where('currency', '=', currency).executeTakeFirst();
}

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

// ---------------------------------------------------------------- coupons

/** Locks the coupon row while a redemption is decided, so the last use goes to exactly one member. */
export async function lockCouponByCode(trx: Tx, guildId: string, code: string): Promise<Coupon | undefined> {
  return trx.selectFrom('billing_coupons').selectAll().where('guild_id', '=', guildId).where(sql<boolean>`lower(code) = lower(${code})`).forUpdate().executeTakeFirst();
}

export async function couponDiscounts(db: Db, couponIds: readonly bigint[]): Promise<CouponDiscount[]> {
  if (couponIds.length === 0) return [];
  return db.selectFrom('billing_coupon_discounts').selectAll().where('coupon_id', 'in', couponIds).orderBy('id').execute();
}

/** Claims one use: undefined when the member already redeemed it (the unique key is the once-per-member guard). */
export async function redeemCoupon(trx: Tx, couponId: bigint, userId: bigint, invoiceId: bigint): Promise<boolean> {
  const row = await trx
    .insertInto('billing_coupon_redemptions')
    .values({ coupon_id: couponId, user_id: userId, invoice_id: invoiceId })
    .onConflict((oc) => oc.constraint('billing_coupon_redemptions_member_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) return false;
  const counted = await trx
    .updateTable('billing_coupons')
    .set({ redemptions: sql`redemptions + 1` })
    .where('id', '=', couponId)
    .where((eb) => eb.or([eb('max_redemptions', 'is', null), eb('redemptions', '<', eb.ref('max_redemptions'))]))
    .returning('id')
    .executeTakeFirst();
  if (!counted) throw new Error(`coupon ${couponId} is used up; callers check under the coupon lock first`);
  return true;
}

/** Gives an unpaid invoice's coupon use back (expired or canceled before payment). */
export async function releaseCoupon(trx: Tx, invoiceId: bigint): Promise<void> {
  const released = await trx.deleteFrom('billing_coupon_redemptions').where('invoice_id', '=', invoiceId).returning('coupon_id').executeTakeFirst();
  if (released) await trx.updateTable('billing_coupons').set({ redemptions: sql`redemptions - 1` }).where('id', '=', released.coupon_id).execute();
}

// ---------------------------------------------------------------- invites

export async function findOpenInvite(db: Db, planId: bigint, userId: bigint): Promise<Invite | undefined> {
  return db
    .selectFrom('billing_invites')
    .selectAll()
    .where('plan_id', '=', planId)
    .where('user_id', '=', userId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

/** Accepted once: false when it was accepted, revoked or had expired meanwhile. */
export async function acceptInvite(trx: Tx, id: bigint): Promise<boolean> {
  const row = await trx
    .updateTable('billing_invites')
    .set({ accepted_at: sql`now()` })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
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

/** Due outbox rows, oldest first, claimed with SKIP LOCKED so two drainers never apply the same row. */
export async function claimDueRoleChanges(trx: Tx, limit: number): Promise<DueRoleChange[]> {
  return trx
    .selectFrom('billing_role_changes as c')
    .innerJoin('users as u', 'u.id', 'c.user_id')
    .selectAll('c')
    .select('u.discord_id')
    .where('c.done_at', 'is', null)
    .where('c.next_attempt_at', '<=', sql<Date>`now()`)
    .orderBy('c.id')
    .limit(limit)
    .forUpdate('c')
    .skipLocked()
    .execute();
}

export async function finishRoleChange(trx: Tx, id: bigint): Promise<void> {
  await trx.updateTable('billing_role_changes').set({ done_at: sql`now()`, last_error: null }).where('id', '=', id).execute();
}

export async function retryRoleChange(trx: Tx, id: bigint, error: string, delayMs: number): Promise<void> {
  await trx
    .updateTable('billing_role_changes')
    .set({ attempts: sql`attempts + 1`, last_error: error.slice(0, 500), next_attempt_at: sql`now() + make_interval(secs => ${delayMs / 1000})` })
    .where('id', '=', id)
    .execute();
}
