import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { BillingCouponDiscountsTable, BillingCouponsTable, BillingInvitesTable, BillingPlanPricesTable, BillingPlansTable, Cycle } from './billing.tables';

// The SQL of what a guild sells (plans, prices, coupons, invites). Folder-private like billing.repository.ts.

type Db = Kysely<DB> | Transaction<DB>;
type Tx = Transaction<DB>;

export type Plan = Selectable<BillingPlansTable>;
export type PlanPrice = Selectable<BillingPlanPricesTable>;
export type Coupon = Selectable<BillingCouponsTable>;
export type CouponDiscount = Selectable<BillingCouponDiscountsTable>;
export type Invite = Selectable<BillingInvitesTable>;

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


export interface CouponInsert {
  guildId: string;
  code: string;
  planId: bigint | null;
  maxRedemptions: number | null;
  expiresAt: Date | null;
  createdBy: string | null;
}

export interface DiscountInput {
  cycle: Cycle | null;
  percentOff: number | null;
  amountOff: bigint | null;
  currency: string | null;
}

/** Undefined when the guild already has a coupon with that code. */
export async function insertCoupon(trx: Tx, c: CouponInsert): Promise<Coupon | undefined> {
  return trx
    .insertInto('billing_coupons')
    .values({ guild_id: c.guildId, code: c.code, plan_id: c.planId, max_redemptions: c.maxRedemptions, expires_at: c.expiresAt, created_by: c.createdBy })
    .onConflict((oc) => oc.constraint('billing_coupons_guild_code_key').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function insertCouponDiscounts(trx: Tx, couponId: bigint, discounts: readonly DiscountInput[]): Promise<void> {
  await trx
    .insertInto('billing_coupon_discounts')
    .values(discounts.map((d) => ({ coupon_id: couponId, cycle: d.cycle, percent_off: d.percentOff, amount_off: d.amountOff?.toString() ?? null, currency: d.currency })))
    .execute();
}

export async function listCoupons(db: Db, q: { guildId?: string; limit?: number }): Promise<Coupon[]> {
  let query = db.selectFrom('billing_coupons').selectAll().orderBy('id', 'desc').limit(q.limit ?? 100);
  if (q.guildId !== undefined) query = query.where('guild_id', '=', q.guildId);
  return query.execute();
}

export async function setCouponActive(trx: Tx, id: bigint, guildId: string | null, active: boolean): Promise<Coupon | undefined> {
  let q = trx.updateTable('billing_coupons').set({ active }).where('id', '=', id);
  if (guildId !== null) q = q.where('guild_id', '=', guildId);
  return q.returningAll().executeTakeFirst();
}

export interface InviteInsert {
  guildId: string;
  planId: bigint;
  userId: bigint;
  invitedBy: string;
  expiresAt: Date;
}

/** Undefined when the member already has an open invite to the plan. An expired open one is revoked first. */
export async function insertInvite(trx: Tx, i: InviteInsert): Promise<Invite | undefined> {
  await trx
    .updateTable('billing_invites')
    .set({ revoked_at: sql`now()` })
    .where('plan_id', '=', i.planId)
    .where('user_id', '=', i.userId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '<=', sql<Date>`now()`)
    .execute();
  return trx
    .insertInto('billing_invites')
    .values({ guild_id: i.guildId, plan_id: i.planId, user_id: i.userId, invited_by: i.invitedBy, expires_at: i.expiresAt })
    .onConflict((oc) => oc.columns(['plan_id', 'user_id']).where('accepted_at', 'is', null).where('revoked_at', 'is', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function listInvites(db: Db, q: { guildId?: string; planId?: bigint; limit?: number }): Promise<Invite[]> {
  let query = db.selectFrom('billing_invites').selectAll().orderBy('id', 'desc').limit(q.limit ?? 100);
  if (q.guildId !== undefined) query = query.where('guild_id', '=', q.guildId);
  if (q.planId !== undefined) query = query.where('plan_id', '=', q.planId);
  return query.execute();
}

export async function revokeInvite(trx: Tx, id: bigint, guildId: string | null): Promise<Invite | undefined> {
  let q = trx.updateTable('billing_invites').set({ revoked_at: sql`now()` }).where('id', '=', id).where('accepted_at', 'is', null).where('revoked_at', 'is', null);
  if (guildId !== null) q = q.where('guild_id', '=', guildId);
  return q.returningAll().executeTakeFirst();
}
