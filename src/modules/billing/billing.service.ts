import type { Kysely, Transaction } from 'kysely';
import type { ChainService } from '../../chain/chain.service';
import { buildTransferRequestUrl, newReference } from '../../chain/solana-pay';
import type { Config } from '../../config';
import type { DB } from '../../db/schema';
import { quote, UserError } from '../../errors';
import type { Currencies, Currency } from '../ledger/currencies';
import * as ledger from '../ledger/ledger.postings';
import type { DiscordUserRef } from '../ledger/ledger.service';
import { refuseBlocked } from '../users/blocked';
import * as users from '../users/users.accounts';
import { BillingCatalog, normalizeCode } from './billing.catalog';
import { BillingStaff } from './billing.staff';
import * as core from './billing.payments';
import * as repo from './billing.repository';
import type { Coupon, CouponDiscount, Invoice, Plan, PlanPrice, Subscription } from './billing.repository';
import { CYCLES, type Cycle } from './billing.tables';

type Tx = Transaction<DB>;

export type { Coupon, Invite, Invoice, InvoicePayment, Plan, PlanPrice, RoleChange, Subscription } from './billing.repository';
export type { PaymentInput, PaymentResult } from './billing.payments';

/** An invoice as a member sees it, with the two ways to pay. */
export interface Checkout {
  invoice: Invoice;
  plan: Plan;
  /** `solana:` transfer request (recipient, amount, mint, reference); null without a treasury or for a free invoice. */
  solanaPayUrl: string | null;
  /** The checkout page (`/pay/<reference>`: the random Solana Pay reference, never the sequential id), when the bot has a public URL. */
  checkoutUrl: string | null;
  replayed: boolean;
}

export interface SubscribeRequest {
  /** The /subscribe interaction: a retry returns the first invoice. */
  interactionId: string;
  guildId: string;
  user: DiscordUserRef;
  plan: string;
  cycle: Cycle;
  currency?: string | null;
  coupon?: string | null;
}


/**
 * Memberships: plans, checkout, payments, subscriptions, coupons, invites, refunds (README.md has the state
 * machines). The money-moving transitions live in billing.payments.ts and run in the caller's transaction; this
 * service opens the transactions for Discord and HTTP callers and holds the validation around them.
 */
export class BillingService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly config: Pick<Config, 'INVOICE_TTL_MINUTES' | 'PUBLIC_URL'>,
    readonly currencies: Currencies,
    private readonly chain: ChainService,
  ) {
    this.catalog = new BillingCatalog(db, currencies);
    this.staff = new BillingStaff(db);
  }

  /** Refunds, cancels, extensions and suspensions by staff and operators. */
  readonly staff: BillingStaff;

  /** Plans, coupons and invites (what the guild sells). */
  readonly catalog: BillingCatalog;

  // ---------------------------------------------------------------- core transitions (caller's transaction)

  /** See {@link core.applyPayment}. */
  applyPayment(trx: Tx, invoiceId: bigint, p: core.PaymentInput): Promise<core.PaymentResult> {
    return core.applyPayment(trx, invoiceId, p);
  }

  /** See {@link core.activateOrExtendSubscription}. */
  activateOrExtendSubscription(trx: Tx, a: core.Activation): ReturnType<typeof core.activateOrExtendSubscription> {
    return core.activateOrExtendSubscription(trx, a);
  }

  /** See {@link core.closeOpenInvoice}. */
  closeOpenInvoice(trx: Tx, invoiceId: bigint, status: 'EXPIRED' | 'CANCELED'): ReturnType<typeof core.closeOpenInvoice> {
    return core.closeOpenInvoice(trx, invoiceId, status);
  }

  /** See {@link core.endSubscription}. */
  endSubscription(trx: Tx, subscriptionId: bigint, status: 'EXPIRED' | 'CANCELED', reason: string): Promise<Subscription | undefined> {
    return core.endSubscription(trx, subscriptionId, status, reason);
  }


  // ---------------------------------------------------------------- checkout

  /**
   * /subscribe: an invoice for one cycle of the plan in one of its currencies, after the plan's cycle discount and
   * an optional coupon (one use claimed now, released if the invoice expires unpaid). Invite-only plans need an open
   * invite or a live subscription (a renewal). A free invoice (100 % coupon) is settled at once.
   */
  async subscribe(req: SubscribeRequest): Promise<Checkout> {
    if (req.user.bot) throw new UserError('BOT_USER', 'Bots cannot subscribe.');
    if (!(CYCLES as readonly string[]).includes(req.cycle)) throw new UserError('UNKNOWN_CYCLE', `Unknown billing cycle ${quote(req.cycle, 20)}.`);
    const prior = await repo.findInvoiceByInteraction(this.db, req.interactionId);
    if (prior) return this.checkout(prior, true);

    const invoice = await this.db.transaction().execute(async (trx) => {
      const userId = await users.ensureId(trx, req.user);
      await refuseBlocked(trx, { self: req.user.discordId });
      const plan = await this.sellablePlan(trx, req.guildId, req.plan);
      const price = await this.priceFor(trx, plan, req.cycle, req.currency);
      const currency = this.currencies.get(price.currency);
      const live = await repo.lockLiveSubscription(trx, userId, plan.id);
      let inviteId: bigint | null = null;
      if (plan.invite_only && !live) {
        const invite = await repo.findOpenInvite(trx, plan.id, userId);
        if (!invite) throw new UserError('INVITE_REQUIRED', `${plan.name} is invite-only: ask the server's staff for an invite.`);
        inviteId = invite.id;
      }
      const planDiscount = (price.price * BigInt(price.discount_percent)) / 100n;
      const coupon = req.coupon?.trim() ? await this.claimableCoupon(trx, req.guildId, req.coupon.trim(), userId, plan) : undefined;
      const couponDiscount = coupon ? couponAmount(coupon.discounts, req.cycle, currency.code, price.price - planDiscount) : 0n;
      if (coupon && couponDiscount === undefined) {
        throw new UserError('COUPON_NOT_APPLICABLE', `Coupon ${quote(coupon.coupon.code, 40)} has no discount for a ${cycleLabel(req.cycle)} in ${currency.code}.`);
      }
      const n = await repo.nextInvoiceNumber(trx, req.guildId);
      const inserted = await repo.insertInvoice(trx, {
        guildId: req.guildId,
        number: `INV-${new Date().getUTCFullYear()}-${String(n).padStart(6, '0')}`,
        userId,
        planId: plan.id,
        cycle: req.cycle,
        kind: live ? 'renewal' : 'new',
        currency: currency.code,
        mint: currency.mint,
        subtotal: price.price,
        discount: planDiscount + (couponDiscount ?? 0n),
        couponId: coupon?.coupon.id ?? null,
        inviteId,
        reference: newReference(),
        recipient: this.chain.hasTreasury ? this.chain.treasury().publicKey : null,
        rateLockedUntil: new Date(Date.now() + this.config.INVOICE_TTL_MINUTES * 60_000),
        interactionId: req.interactionId,
      });
      if (!inserted) return undefined;
      if (coupon && !(await repo.redeemCoupon(trx, coupon.coupon.id, userId, inserted.id))) {
        throw new UserError('COUPON_ALREADY_REDEEMED', `You have already used coupon ${quote(coupon.coupon.code, 40)}.`);
      }
      if (inserted.amount === 0n) return (await core.settlePaidInvoice(trx, await repo.setInvoicePaidAmount(trx, inserted.id, 0n, true))).invoice;
      return inserted;
    });
    // A concurrent retry of the same interaction inserted first (its transaction rolled ours back to nothing).
    if (!invoice) return this.checkout((await repo.findInvoiceByInteraction(this.db, req.interactionId))!, true);
    return this.checkout(invoice, false);
  }

  /**
   * "Pay from balance": one transaction debits what is due, journals it to the guild's revenue, marks the invoice
   * PAID and activates or extends the subscription with the role grant queued. A second click (or a retry) finds the
   * invoice paid and returns it unchanged; nothing moves twice.
   */
  async payFromBalance(invoiceId: bigint, user: DiscordUserRef): Promise<{ invoice: Invoice; subscription: Subscription | undefined; replayed: boolean }> {
    const result = await this.db.transaction().execute(async (trx) => {
      const invoice = await repo.findInvoice(trx, invoiceId);
      const userId = await users.findByDiscordId(trx, user.discordId);
      if (!invoice || invoice.user_id !== userId?.id) throw new UserError('INVOICE_NOT_FOUND', `You have no invoice #${invoiceId}.`);
      await refuseBlocked(trx, { self: user.discordId });
      try {
        return await core.applyPayment(trx, invoiceId, { source: 'balance' });
      } catch (err) {
        if (err instanceof core.InsufficientBalance) {
          throw new UserError(
            'INSUFFICIENT_FUNDS',
            `Insufficient funds: invoice ${invoice.number} needs ${this.currencies.format(err.needed, err.currency)} but you have ${this.currencies.format(err.balance, err.currency)}.`,
          );
        }
        throw err;
      }
    });
    const subscription = result.subscription ?? (result.invoice.subscription_id !== null ? await repo.findSubscription(this.db, result.invoice.subscription_id) : undefined);
    return { invoice: result.invoice, subscription, replayed: result.outcome === 'replayed' };
  }

  /**
   * A free trial of the plan's trial_days: once per member per guild (the billing_trial_uses insert is the claim),
   * only for a member with no live subscription to the plan, and through an invite for invite-only plans.
   */
  async startTrial(req: { guildId: string; user: DiscordUserRef; plan: string }): Promise<Subscription> {
    if (req.user.bot) throw new UserError('BOT_USER', 'Bots cannot subscribe.');
    return this.db.transaction().execute(async (trx) => {
      const userId = await users.ensureId(trx, req.user);
      await refuseBlocked(trx, { self: req.user.discordId });
      const plan = await this.sellablePlan(trx, req.guildId, req.plan);
      if (plan.trial_days === 0) throw new UserError('NO_TRIAL', `${plan.name} has no free trial.`);
      if (await repo.lockLiveSubscription(trx, userId, plan.id)) throw new UserError('ALREADY_SUBSCRIBED', `You already have ${plan.name}.`);
      // Claimed first (a failure below rolls the claim back): "trial twice" is the answer a second try deserves.
      if (!(await repo.claimTrial(trx, req.guildId, userId, plan.id))) throw new UserError('TRIAL_USED', 'You have already had a free trial on this server.');
      const invite = plan.invite_only ? await repo.findOpenInvite(trx, plan.id, userId) : undefined;
      if (plan.invite_only && !invite) throw new UserError('INVITE_REQUIRED', `${plan.name} is invite-only: ask the server's staff for an invite.`);
      const price = (await repo.pricesOf(trx, [plan.id]))[0];
      const { subscription } = await core.activateOrExtendSubscription(trx, {
        guildId: req.guildId,
        userId,
        planId: plan.id,
        cycle: price?.cycle ?? 'month',
        currency: price?.currency ?? 'SOL',
        period: { days: plan.trial_days },
        invoiceId: null,
        trial: true,
      });
      if (invite) await repo.acceptInvite(trx, invite.id);
      await repo.setTrialSubscription(trx, req.guildId, userId, subscription.id);
      return subscription;
    });
  }

  /** The member's subscriptions in the guild (live first, then the most recent ended ones). */
  async memberSubscriptions(guildId: string, discordId: string): Promise<Array<Subscription & { plan: Plan }>> {
    const user = await users.findByDiscordId(this.db, discordId);
    if (!user) return [];
    const subs = await repo.listSubscriptions(this.db, { guildId, userId: user.id, limit: 25 });
    const live = (s: Subscription) => (s.status === 'ACTIVE' || s.status === 'SUSPENDED' ? 0 : 1);
    const out = [];
    for (const s of subs.sort((a, b) => live(a) - live(b))) out.push({ ...s, plan: (await repo.findPlan(this.db, s.plan_id))! });
    return out;
  }

  /**
   * /subscription cancel|resume|auto-renew: whether the member's live subscription renews. Cancel keeps the role
   * until the paid period ends (the subscription stays ACTIVE with cancel_requested_at set); resume undoes that.
   */
  async setAutoRenew(req: { guildId: string; discordId: string; plan?: string | null; on: boolean }): Promise<Subscription & { plan: Plan }> {
    const live = (await this.memberSubscriptions(req.guildId, req.discordId)).filter((s) => s.status === 'ACTIVE' || s.status === 'SUSPENDED');
    const wanted = req.plan?.trim() ? live.filter((s) => s.plan.code === normalizeCode(req.plan!)) : live;
    if (wanted.length === 0) throw new UserError('SUBSCRIPTION_NOT_FOUND', req.plan ? `You have no live subscription to ${quote(req.plan, 40)}.` : 'You have no live subscription on this server.');
    if (wanted.length > 1) throw new UserError('PLAN_REQUIRED', `You have several subscriptions here; name the plan (${wanted.map((s) => s.plan.code).join(', ')}).`);
    const target = wanted[0]!;
    const updated = await this.db.transaction().execute(async (trx) => {
      const s = await repo.lockSubscription(trx, target.id);
      if (!s || (s.status !== 'ACTIVE' && s.status !== 'SUSPENDED')) throw new UserError('SUBSCRIPTION_STATE', 'That subscription has ended.');
      return repo.setRenewal(trx, s.id, req.on);
    });
    return { ...updated, plan: target.plan };
  }

  /** The member's invoices (in one guild, or everywhere), newest first. */
  async memberInvoices(discordId: string, o: { guildId?: string; limit?: number; beforeId?: bigint } = {}): Promise<Invoice[]> {
    const user = await users.findByDiscordId(this.db, discordId);
    if (!user) return [];
    return repo.listInvoices(this.db, { userId: user.id, limit: o.limit ?? 10, ...(o.guildId !== undefined && { guildId: o.guildId }), ...(o.beforeId !== undefined && { beforeId: o.beforeId }) });
  }

  /** An invoice of this member with what /invoice show needs: its plan and payments. */
  async memberInvoice(discordId: string, id: bigint): Promise<{ invoice: Invoice; plan: Plan; payments: repo.InvoicePayment[] }> {
    const user = await users.findByDiscordId(this.db, discordId);
    const invoice = await repo.findInvoice(this.db, id);
    if (!invoice || invoice.user_id !== user?.id) throw new UserError('INVOICE_NOT_FOUND', `You have no invoice #${id}.`);
    return { invoice, plan: (await repo.findPlan(this.db, invoice.plan_id))!, payments: await repo.paymentsOf(this.db, id) };
  }

  /** The invoice as the checkout shows it (solana: URL and checkout page link). */
  async checkout(invoice: Invoice, replayed = false): Promise<Checkout> {
    const plan = (await repo.findPlan(this.db, invoice.plan_id))!;
    const currency = this.currencies.get(invoice.currency);
    return { invoice, plan, solanaPayUrl: this.solanaPayUrl(invoice, currency, plan), checkoutUrl: this.checkoutUrl(invoice), replayed };
  }

  checkoutUrl(invoice: Pick<Invoice, 'reference'>): string | null {
    return this.config.PUBLIC_URL ? `${this.config.PUBLIC_URL.replace(/\/$/, '')}/pay/${invoice.reference}` : null;
  }

  private solanaPayUrl(invoice: Invoice, currency: Currency, plan: Plan): string | null {
    if (invoice.recipient === null || !core.isOpen(invoice)) return null;
    const due = invoice.amount - invoice.paid_amount;
    if (due <= 0n) return null;
    return buildTransferRequestUrl({
      recipient: invoice.recipient,
      amount: due,
      ...(currency.mint && { splToken: currency.mint, decimals: currency.decimals }),
      reference: invoice.reference,
      label: plan.name.slice(0, 60),
      message: `Invoice ${invoice.number}`,
    });
  }

  /** Per currency, what the guild's revenue account holds (every guild's without one). */
  revenue(guildId?: string): Promise<Map<string, bigint>> {
    return ledger.revenueOf(this.db, guildId);
  }

  async invoice(id: bigint): Promise<Invoice | undefined> {
    return repo.findInvoice(this.db, id);
  }

  /** The Discord id of the invoice's member. */
  async invoiceOwner(invoice: Pick<Invoice, 'user_id'>): Promise<string> {
    return (await repo.discordIdOf(this.db, invoice.user_id)) ?? 'unknown';
  }

  async subscription(id: bigint): Promise<Subscription | undefined> {
    return repo.findSubscription(this.db, id);
  }

  // ---------------------------------------------------------------- helpers

  private async sellablePlan(db: Kysely<DB> | Tx, guildId: string, code: string): Promise<Plan> {
    const plan = await repo.findPlanByCode(db, guildId, normalizeCode(code));
    if (!plan) throw new UserError('PLAN_NOT_FOUND', `This server has no plan ${quote(code, 40)}. See /plans.`);
    if (plan.status === 'archived') throw new UserError('PLAN_ARCHIVED', `Plan ${quote(plan.name, 60)} is no longer sold.`);
    return plan;
  }

  private async priceFor(db: Kysely<DB> | Tx, plan: Plan, cycle: Cycle, currency: string | null | undefined): Promise<PlanPrice> {
    const prices = (await repo.pricesOf(db, [plan.id])).filter((p) => p.cycle === cycle);
    const wanted = currency?.trim() ? this.currencies.get(currency).code : undefined;
    const price = wanted ? prices.find((p) => p.currency === wanted) : (prices.find((p) => p.currency === 'SOL') ?? prices[0]);
    if (!price) {
      const offered = prices.map((p) => p.currency).join(', ');
      throw new UserError(
        'PRICE_NOT_FOUND',
        offered
          ? `${plan.name} is not sold for ${wanted} per ${cycleLabel(cycle)}; it is sold in ${offered}.`
          : `${plan.name} has no ${cycleLabel(cycle)} price. See /plans.`,
      );
    }
    return price;
  }

  /** The coupon, locked, when this member may use it on this plan now; a specific UserError otherwise. */
  private async claimableCoupon(trx: Tx, guildId: string, code: string, userId: bigint, plan: Plan): Promise<{ coupon: Coupon; discounts: CouponDiscount[] }> {
    const coupon = await repo.lockCouponByCode(trx, guildId, code);
    if (!coupon) throw new UserError('COUPON_UNKNOWN', `There is no coupon ${quote(code, 40)} on this server.`);
    if (!coupon.active || (coupon.expires_at !== null && coupon.expires_at.getTime() <= Date.now())) {
      throw new UserError('COUPON_EXPIRED', `Coupon ${quote(coupon.code, 40)} has expired.`);
    }
    if (coupon.plan_id !== null && coupon.plan_id !== plan.id) {
      throw new UserError('COUPON_OTHER_PLAN', `Coupon ${quote(coupon.code, 40)} is not valid for ${quote(plan.name, 60)}.`);
    }
    if (coupon.max_redemptions !== null && coupon.redemptions >= coupon.max_redemptions) {
      throw new UserError('COUPON_USED_UP', `Coupon ${quote(coupon.code, 40)} has been used up.`);
    }
    return { coupon, discounts: await repo.couponDiscounts(trx, [coupon.id]) };
  }
}

/** The coupon's discount on `base` for this cycle and currency (a cycle-specific row beats the all-cycles one). */
export function couponAmount(discounts: readonly CouponDiscount[], cycle: Cycle, currency: string, base: bigint): bigint | undefined {
  const fits = (d: CouponDiscount) => d.percent_off !== null || d.currency === currency;
  const d = discounts.find((x) => x.cycle === cycle && fits(x)) ?? discounts.find((x) => x.cycle === null && fits(x));
  if (!d) return undefined;
  const off = d.percent_off !== null ? (base * BigInt(d.percent_off)) / 100n : d.amount_off!;
  return off > base ? base : off;
}

export function cycleLabel(cycle: Cycle): string {
  return { month: 'month', quarter: 'quarter', half_year: 'half-year', year: 'year' }[cycle];
}
