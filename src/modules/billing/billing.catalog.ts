import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import { quote, UserError } from '../../errors';
import { writeAudit, type AuditActor } from '../guilds/guilds.audit';
import type { Currencies } from '../ledger/currencies';
import type { DiscordUserRef } from '../ledger/ledger.service';
import * as users from '../users/users.accounts';
import * as repo from './billing.repository';
import type { Coupon, CouponDiscount, Invite, Plan, PlanPrice } from './billing.repository';
import { CYCLES, type Cycle } from './billing.tables';

type Tx = Transaction<DB>;

export interface PlanWithPrices extends Plan {
  prices: PlanPrice[];
}

export interface PriceCreate {
  cycle: Cycle;
  /** Decimal, in the currency's units ("0.5"). */
  price: string;
  currency: string;
  discountPercent?: number;
}

export interface PlanPatch {
  name?: string;
  description?: string;
  features?: string[];
  roleId?: string;
  trialDays?: number;
  inviteOnly?: boolean;
  prices?: PriceCreate[];
}

export interface PlanCreate extends PlanPatch {
  guildId: string;
  code: string;
  name: string;
  roleId: string;
  prices: PriceCreate[];
}

function planFields(p: PlanPatch) {
  if (p.name !== undefined && (p.name.trim().length === 0 || p.name.length > 100)) throw new UserError('BAD_PLAN_NAME', 'A plan name is 1–100 characters.');
  if (p.trialDays !== undefined && (!Number.isInteger(p.trialDays) || p.trialDays < 0 || p.trialDays > 365)) {
    throw new UserError('BAD_TRIAL_DAYS', 'Trial days are a whole number from 0 to 365.');
  }
  if (p.roleId !== undefined && !/^\d{17,20}$/.test(p.roleId)) throw new UserError('BAD_ROLE', 'That is not a Discord role id.');
  if (p.description !== undefined && p.description.length > 1000) throw new UserError('BAD_DESCRIPTION', 'A plan description is at most 1,000 characters.');
  return {
    ...(p.name !== undefined && { name: p.name.trim() }),
    description: p.description,
    features: p.features?.map((f) => f.trim()).filter(Boolean).slice(0, 25),
    roleId: p.roleId,
    trialDays: p.trialDays,
    inviteOnly: p.inviteOnly,
  } as { name: string; description: string; features: string[]; roleId: string; trialDays: number; inviteOnly: boolean };
}

const PLAN_CODE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface DiscountCreate {
  /** null: every cycle. */
  cycle: Cycle | null;
  percentOff?: number | null;
  /** Decimal in `currency` units. */
  amountOff?: string | null;
  currency?: string | null;
}

export interface CouponCreate {
  guildId: string;
  code: string;
  /** Plan code; absent = any plan of the guild. */
  plan?: string | null;
  maxRedemptions?: number | null;
  expiresAt?: Date | null;
  discounts: DiscountCreate[];
}

export interface CouponWithDiscounts extends Coupon {
  discounts: CouponDiscount[];
}

export function normalizeCode(code: string): string {
  return code.trim().toLowerCase();
}

export function validPlanCode(code: string): boolean {
  return PLAN_CODE.test(code);
}

/**
 * What a guild sells: plans with their prices, coupons and invites. Guild staff manage their own guild's (every
 * method taking a `guildId` refuses another guild's rows as not found); operators pass `null` through the admin API.
 * Every change writes its audit row in its own transaction.
 */
export class BillingCatalog {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly currencies: Currencies,
  ) {}

  // ---------------------------------------------------------------- plans

  /** /plan create and POST /admin/plans: a plan with at least one price; audited in the same transaction. */
  async createPlan(actor: AuditActor, input: PlanCreate): Promise<PlanWithPrices> {
    const code = normalizeCode(input.code);
    if (!validPlanCode(code)) throw new UserError('BAD_PLAN_CODE', `Plan codes are 1–32 lowercase letters, digits, - or _ (got ${quote(input.code, 40)}).`);
    const prices = this.checkPrices(input.prices);
    if (prices.length === 0) throw new UserError('PRICE_REQUIRED', 'A plan needs at least one price.');
    return this.db.transaction().execute(async (trx) => {
      const plan = await repo.insertPlan(trx, { ...planFields(input), guildId: input.guildId, code, createdBy: actor.discordId });
      if (!plan) throw new UserError('PLAN_CODE_TAKEN', `This server already has a plan ${quote(code, 40)}.`);
      await repo.upsertPrices(trx, plan.id, prices);
      const out = { ...plan, prices: await repo.pricesOf(trx, [plan.id]) };
      await writeAudit(trx, { actor, guildId: plan.guild_id, action: 'billing.plan_create', target: `plan:${plan.id}`, after: out });
      return out;
    });
  }

  /** /plan edit and PATCH /admin/plans/:id: only the fields given change; prices given replace their (cycle, currency). */
  async editPlan(actor: AuditActor, guildId: string | null, id: bigint, patch: PlanPatch): Promise<PlanWithPrices> {
    const prices = this.checkPrices(patch.prices ?? []);
    return this.db.transaction().execute(async (trx) => {
      const before = await this.ownPlan(trx, guildId, id);
      const plan = (await repo.updatePlan(trx, id, planFields(patch)))!;
      await repo.upsertPrices(trx, id, prices);
      const out = { ...plan, prices: await repo.pricesOf(trx, [id]) };
      await writeAudit(trx, { actor, guildId: plan.guild_id, action: 'billing.plan_edit', target: `plan:${id}`, before, after: out });
      return out;
    });
  }

  /** Archived plans are no longer sold; live subscriptions keep running until they end. */
  async archivePlan(actor: AuditActor, guildId: string | null, id: bigint): Promise<Plan> {
    return this.db.transaction().execute(async (trx) => {
      const before = await this.ownPlan(trx, guildId, id);
      const plan = await repo.archivePlan(trx, id);
      if (!plan) throw new UserError('PLAN_ARCHIVED', `Plan ${quote(before.name, 60)} is already archived.`);
      await writeAudit(trx, { actor, guildId: plan.guild_id, action: 'billing.plan_archive', target: `plan:${id}`, before: { status: before.status }, after: { status: plan.status } });
      return plan;
    });
  }

  /** The plan, when it belongs to `guildId` (null: an operator, any guild); staff of one guild never see another's. */
  private async ownPlan(db: Kysely<DB> | Tx, guildId: string | null, id: bigint): Promise<PlanWithPrices> {
    const plan = await repo.findPlan(db, id);
    if (!plan || (guildId !== null && plan.guild_id !== guildId)) throw new UserError('PLAN_NOT_FOUND', `This server has no plan #${id}.`);
    return { ...plan, prices: await repo.pricesOf(db, [id]) };
  }

  private checkPrices(prices: readonly PriceCreate[]): repo.PriceInput[] {
    return prices.map((p) => {
      if (!(CYCLES as readonly string[]).includes(p.cycle)) throw new UserError('UNKNOWN_CYCLE', `Unknown billing cycle ${quote(p.cycle, 20)}.`);
      const { currency, amount } = this.currencies.parse(p.price, p.currency);
      const discountPercent = p.discountPercent ?? 0;
      if (!Number.isInteger(discountPercent) || discountPercent < 0 || discountPercent > 99) {
        throw new UserError('BAD_DISCOUNT', 'A cycle discount is a whole percentage from 0 to 99.');
      }
      return { cycle: p.cycle, currency: currency.code, price: amount, discountPercent };
    });
  }

  // ---------------------------------------------------------------- plans (reads)

  async plan(guildId: string, code: string): Promise<PlanWithPrices> {
    const plan = await repo.findPlanByCode(this.db, guildId, normalizeCode(code));
    if (!plan) throw new UserError('PLAN_NOT_FOUND', `This server has no plan ${quote(code, 40)}. See /plans.`);
    return { ...plan, prices: await repo.pricesOf(this.db, [plan.id]) };
  }

  async plans(q: { guildId?: string; includeArchived?: boolean; limit?: number }): Promise<PlanWithPrices[]> {
    const plans = await repo.listPlans(this.db, q);
    const prices = await repo.pricesOf(this.db, plans.map((p) => p.id));
    return plans.map((p) => ({ ...p, prices: prices.filter((x) => x.plan_id === p.id) }));
  }

  // ---------------------------------------------------------------- coupons

  /** A coupon of the guild: percent or fixed off, per cycle (or every cycle), optionally for one plan only. */
  async createCoupon(actor: AuditActor, input: CouponCreate): Promise<CouponWithDiscounts> {
    const code = input.code.trim();
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(code)) throw new UserError('BAD_COUPON_CODE', `Coupon codes are 1–32 letters, digits, - or _ (got ${quote(input.code, 40)}).`);
    if (input.discounts.length === 0) throw new UserError('DISCOUNT_REQUIRED', 'A coupon needs at least one discount.');
    if (input.maxRedemptions !== undefined && input.maxRedemptions !== null && (!Number.isInteger(input.maxRedemptions) || input.maxRedemptions < 1)) {
      throw new UserError('BAD_MAX_REDEMPTIONS', 'Max redemptions is a whole number of at least 1.');
    }
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw new UserError('BAD_EXPIRY', 'A coupon must expire in the future.');
    const discounts = input.discounts.map((d) => this.checkDiscount(d));
    return this.db.transaction().execute(async (trx) => {
      const planId = input.plan ? (await this.ownPlanByCode(trx, input.guildId, input.plan)).id : null;
      const coupon = await repo.insertCoupon(trx, { guildId: input.guildId, code, planId, maxRedemptions: input.maxRedemptions ?? null, expiresAt: input.expiresAt ?? null, createdBy: actor.discordId });
      if (!coupon) throw new UserError('COUPON_CODE_TAKEN', `This server already has a coupon ${quote(code, 40)}.`);
      await repo.insertCouponDiscounts(trx, coupon.id, discounts);
      const out = { ...coupon, discounts: await repo.couponDiscounts(trx, [coupon.id]) };
      await writeAudit(trx, { actor, guildId: input.guildId, action: 'billing.coupon_create', target: `coupon:${coupon.id}`, after: out });
      return out;
    });
  }

  async coupons(q: { guildId?: string; limit?: number }): Promise<CouponWithDiscounts[]> {
    const coupons = await repo.listCoupons(this.db, q);
    const discounts = await repo.couponDiscounts(this.db, coupons.map((c) => c.id));
    return coupons.map((c) => ({ ...c, discounts: discounts.filter((d) => d.coupon_id === c.id) }));
  }

  /** Stops a coupon being redeemed; invoices already issued with it keep their price. */
  async disableCoupon(actor: AuditActor, guildId: string | null, id: bigint): Promise<Coupon> {
    return this.db.transaction().execute(async (trx) => {
      const coupon = await repo.setCouponActive(trx, id, guildId, false);
      if (!coupon) throw new UserError('COUPON_UNKNOWN', `There is no coupon #${id} on this server.`);
      await writeAudit(trx, { actor, guildId: coupon.guild_id, action: 'billing.coupon_disable', target: `coupon:${id}`, after: { active: false } });
      return coupon;
    });
  }

  private checkDiscount(d: DiscountCreate): repo.DiscountInput {
    if (d.cycle !== null && !(CYCLES as readonly string[]).includes(d.cycle)) throw new UserError('UNKNOWN_CYCLE', `Unknown billing cycle ${quote(d.cycle, 20)}.`);
    if (d.percentOff !== undefined && d.percentOff !== null) {
      if (!Number.isInteger(d.percentOff) || d.percentOff < 1 || d.percentOff > 100) throw new UserError('BAD_DISCOUNT', 'A percentage off is a whole number from 1 to 100.');
      return { cycle: d.cycle, percentOff: d.percentOff, amountOff: null, currency: null };
    }
    if (!d.amountOff) throw new UserError('BAD_DISCOUNT', 'A discount is a percentage or an amount with its currency.');
    const { currency, amount } = this.currencies.parse(d.amountOff, d.currency);
    return { cycle: d.cycle, percentOff: null, amountOff: amount, currency: currency.code };
  }

  // ---------------------------------------------------------------- invites

  /** /invite user plan: admits one member to an invite-only plan, once, until it expires. */
  async invite(actor: AuditActor, input: { guildId: string; plan: string; user: DiscordUserRef; days?: number }): Promise<Invite> {
    const days = input.days ?? 7;
    if (!Number.isInteger(days) || days < 1 || days > 365) throw new UserError('BAD_INVITE_DAYS', 'An invite lasts 1 to 365 days.');
    if (input.user.bot) throw new UserError('BOT_USER', 'Bots cannot subscribe.');
    return this.db.transaction().execute(async (trx) => {
      const plan = await this.ownPlanByCode(trx, input.guildId, input.plan);
      if (plan.status === 'archived') throw new UserError('PLAN_ARCHIVED', `Plan ${quote(plan.name, 60)} is no longer sold.`);
      const userId = await users.ensureId(trx, input.user);
      const invite = await repo.insertInvite(trx, { guildId: input.guildId, planId: plan.id, userId, invitedBy: actor.discordId ?? actor.via, expiresAt: new Date(Date.now() + days * 86_400_000) });
      if (!invite) throw new UserError('ALREADY_INVITED', `${input.user.username} already has an open invite to ${plan.name}.`);
      await writeAudit(trx, { actor, guildId: input.guildId, action: 'billing.invite', target: `user:${input.user.discordId}`, after: { plan: plan.code, expiresAt: invite.expires_at } });
      return invite;
    });
  }

  async invites(q: { guildId?: string; planId?: bigint; limit?: number }): Promise<Invite[]> {
    return repo.listInvites(this.db, q);
  }

  async revokeInvite(actor: AuditActor, guildId: string | null, id: bigint): Promise<Invite> {
    return this.db.transaction().execute(async (trx) => {
      const invite = await repo.revokeInvite(trx, id, guildId);
      if (!invite) throw new UserError('INVITE_NOT_FOUND', `There is no open invite #${id}.`);
      await writeAudit(trx, { actor, guildId: invite.guild_id, action: 'billing.invite_revoke', target: `invite:${id}` });
      return invite;
    });
  }

  private async ownPlanByCode(db: Kysely<DB> | Tx, guildId: string, code: string): Promise<Plan> {
    const plan = await repo.findPlanByCode(db, guildId, normalizeCode(code));
    if (!plan) throw new UserError('PLAN_NOT_FOUND', `This server has no plan ${quote(code, 40)}. See /plans.`);
    return plan;
  }
}
