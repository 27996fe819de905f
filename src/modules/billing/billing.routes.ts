import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import type { AuditActor } from '../guilds/guilds.audit';
import type { CouponWithDiscounts, PlanWithPrices } from './billing.catalog';
import type { Invite, Invoice, Subscription } from './billing.service';
import { CYCLES } from './billing.tables';

// `/admin/plans`, `/admin/coupons`, `/admin/invites`, `/admin/invoices`, `/admin/subscriptions`, `/admin/revenue`:
// the operators' API (bearer-guarded /admin scope), any guild. Every change is audited with via 'admin-api'.

const id = z.string().regex(/^\d{1,19}$/);
const snowflake = z.string().regex(/^\d{17,20}$/);
const operator = z.string().min(1).max(64).optional().describe("the operator's Discord id, recorded in the audit log");
const reason = z.string().trim().min(1).max(300);
const INVOICE_STATUSES = ['CREATED', 'PENDING', 'PAID', 'EXPIRED', 'CANCELED', 'REFUNDED'] as const;
const SUBSCRIPTION_STATUSES = ['ACTIVE', 'EXPIRED', 'CANCELED', 'SUSPENDED'] as const;
const page = { limit: z.coerce.number().int().min(1).max(200).default(50), before: id.optional().describe('page: rows with a smaller id') };
const actorOf = (o: string | undefined): AuditActor => ({ discordId: o ?? null, via: 'admin-api' });
const iso = (d: Date | null) => d?.toISOString() ?? null;

const priceInput = z.object({
  cycle: z.enum(CYCLES),
  price: z.string().regex(/^\d+(\.\d+)?$/).describe('decimal, in the currency’s units'),
  currency: z.string().min(1).max(16),
  discountPercent: z.number().int().min(0).max(99).optional(),
});

const planSchema = z
  .object({
    id: z.string(),
    guildId: z.string(),
    code: z.string(),
    name: z.string(),
    description: z.string(),
    features: z.array(z.string()),
    roleId: z.string(),
    trialDays: z.number(),
    inviteOnly: z.boolean(),
    status: z.enum(['active', 'archived']),
    prices: z.array(z.object({ cycle: z.enum(CYCLES), currency: z.string(), price: z.string().describe('base units'), discountPercent: z.number() })),
    createdAt: z.string(),
  })
  .meta({ id: 'Plan' });

const planJson = (p: PlanWithPrices) => ({
  id: p.id.toString(),
  guildId: p.guild_id,
  code: p.code,
  name: p.name,
  description: p.description,
  features: p.features,
  roleId: p.role_id,
  trialDays: p.trial_days,
  inviteOnly: p.invite_only,
  status: p.status,
  prices: p.prices.map((x) => ({ cycle: x.cycle, currency: x.currency, price: x.price.toString(), discountPercent: x.discount_percent })),
  createdAt: p.created_at.toISOString(),
});

const couponSchema = z
  .object({
    id: z.string(),
    guildId: z.string(),
    code: z.string(),
    planId: z.string().nullable(),
    maxRedemptions: z.number().nullable(),
    redemptions: z.number(),
    expiresAt: z.string().nullable(),
    active: z.boolean(),
    discounts: z.array(z.object({ cycle: z.enum(CYCLES).nullable(), percentOff: z.number().nullable(), amountOff: z.string().nullable(), currency: z.string().nullable() })),
  })
  .meta({ id: 'Coupon' });

const couponJson = (c: CouponWithDiscounts) => ({
  id: c.id.toString(),
  guildId: c.guild_id,
  code: c.code,
  planId: c.plan_id?.toString() ?? null,
  maxRedemptions: c.max_redemptions,
  redemptions: c.redemptions,
  expiresAt: iso(c.expires_at),
  active: c.active,
  discounts: c.discounts.map((d) => ({ cycle: d.cycle, percentOff: d.percent_off, amountOff: d.amount_off?.toString() ?? null, currency: d.currency })),
});

const inviteSchema = z
  .object({ id: z.string(), guildId: z.string(), planId: z.string(), userId: z.string(), invitedBy: z.string(), expiresAt: z.string(), acceptedAt: z.string().nullable(), revokedAt: z.string().nullable() })
  .meta({ id: 'PlanInvite' });

const inviteJson = (i: Invite) => ({
  id: i.id.toString(),
  guildId: i.guild_id,
  planId: i.plan_id.toString(),
  userId: i.user_id.toString(),
  invitedBy: i.invited_by,
  expiresAt: i.expires_at.toISOString(),
  acceptedAt: iso(i.accepted_at),
  revokedAt: iso(i.revoked_at),
});

const invoiceSchema = z
  .object({
    id: z.string(),
    guildId: z.string(),
    number: z.string(),
    userId: z.string(),
    planId: z.string(),
    cycle: z.enum(CYCLES),
    kind: z.string(),
    status: z.enum(INVOICE_STATUSES),
    currency: z.string(),
    mint: z.string().nullable(),
    subtotal: z.string(),
    discount: z.string(),
    amount: z.string().describe('base units'),
    paidAmount: z.string(),
    reference: z.string(),
    recipient: z.string().nullable(),
    rateLockedUntil: z.string(),
    subscriptionId: z.string().nullable(),
    paidAt: z.string().nullable(),
    refundedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Invoice' });

export const invoiceJson = (i: Invoice) => ({
  id: i.id.toString(),
  guildId: i.guild_id,
  number: i.number,
  userId: i.user_id.toString(),
  planId: i.plan_id.toString(),
  cycle: i.cycle,
  kind: i.kind,
  status: i.status,
  currency: i.currency,
  mint: i.mint,
  subtotal: i.subtotal.toString(),
  discount: i.discount.toString(),
  amount: i.amount.toString(),
  paidAmount: i.paid_amount.toString(),
  reference: i.reference,
  recipient: i.recipient,
  rateLockedUntil: i.rate_locked_until.toISOString(),
  subscriptionId: i.subscription_id?.toString() ?? null,
  paidAt: iso(i.paid_at),
  refundedAt: iso(i.refunded_at),
  createdAt: i.created_at.toISOString(),
});

const subscriptionSchema = z
  .object({
    id: z.string(),
    guildId: z.string(),
    userId: z.string(),
    planId: z.string(),
    status: z.enum(SUBSCRIPTION_STATUSES),
    cycle: z.enum(CYCLES),
    trial: z.boolean(),
    autoRenew: z.boolean(),
    activeSince: z.string(),
    expiresAt: z.string(),
    inactiveSince: z.string().nullable(),
    cancelRequestedAt: z.string().nullable(),
    suspendedReason: z.string().nullable(),
  })
  .meta({ id: 'Subscription' });

const subscriptionJson = (s: Subscription) => ({
  id: s.id.toString(),
  guildId: s.guild_id,
  userId: s.user_id.toString(),
  planId: s.plan_id.toString(),
  status: s.status,
  cycle: s.cycle,
  trial: s.trial,
  autoRenew: s.auto_renew,
  activeSince: s.active_since.toISOString(),
  expiresAt: s.expires_at.toISOString(),
  inactiveSince: iso(s.inactive_since),
  cancelRequestedAt: iso(s.cancel_requested_at),
  suspendedReason: s.suspended_reason,
});

export function billingAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const api = admin.withTypeProvider<ZodTypeProvider>();
  const billing = ctx.services.billing;
  const params = z.object({ id });

  // ---------------------------------------------------------------- plans
  api.get(
    '/plans',
    {
      schema: {
        summary: 'Membership plans (all guilds or one), with prices',
        querystring: z.object({ guildId: snowflake.optional(), includeArchived: z.stringbool().default(false), limit: page.limit }),
        response: { 200: z.object({ items: z.array(planSchema) }) },
      },
    },
    async (req) => ({
      items: (await billing.catalog.plans({ includeArchived: req.query.includeArchived, limit: req.query.limit, ...(req.query.guildId && { guildId: req.query.guildId }) })).map(planJson),
    }),
  );
  api.post(
    '/plans',
    {
      schema: {
        summary: 'Create a plan in a guild',
        body: z
          .object({
            guildId: snowflake,
            code: z.string().min(1).max(32),
            name: z.string().min(1).max(100),
            description: z.string().max(1000).optional(),
            features: z.array(z.string().max(200)).max(25).optional(),
            roleId: snowflake,
            trialDays: z.number().int().min(0).max(365).optional(),
            inviteOnly: z.boolean().optional(),
            prices: z.array(priceInput).min(1).max(16),
            operator,
          })
          .strict(),
        response: { 200: planSchema },
      },
    },
    async (req) => planJson(await billing.catalog.createPlan(actorOf(req.body.operator), req.body)),
  );
  api.patch(
    '/plans/:id',
    {
      schema: {
        summary: 'Edit a plan; prices given replace their (cycle, currency)',
        params,
        body: z
          .object({
            name: z.string().min(1).max(100).optional(),
            description: z.string().max(1000).optional(),
            features: z.array(z.string().max(200)).max(25).optional(),
            roleId: snowflake.optional(),
            trialDays: z.number().int().min(0).max(365).optional(),
            inviteOnly: z.boolean().optional(),
            prices: z.array(priceInput).max(16).optional(),
            operator,
          })
          .strict(),
        response: { 200: planSchema },
      },
    },
    async (req) => planJson(await billing.catalog.editPlan(actorOf(req.body.operator), null, BigInt(req.params.id), req.body)),
  );
  api.post(
    '/plans/:id/archive',
    { schema: { summary: 'Archive a plan: no longer sold; live subscriptions run to their end', params, body: z.object({ operator }).strict().optional(), response: { 200: z.object({ id: z.string(), status: z.string() }) } } },
    async (req) => {
      const plan = await billing.catalog.archivePlan(actorOf(req.body?.operator), null, BigInt(req.params.id));
      return { id: plan.id.toString(), status: plan.status };
    },
  );

  // ---------------------------------------------------------------- coupons
  api.get(
    '/coupons',
    { schema: { summary: 'Coupons, newest first', querystring: z.object({ guildId: snowflake.optional(), limit: page.limit }), response: { 200: z.object({ items: z.array(couponSchema) }) } } },
    async (req) => ({ items: (await billing.catalog.coupons({ limit: req.query.limit, ...(req.query.guildId && { guildId: req.query.guildId }) })).map(couponJson) }),
  );
  api.post(
    '/coupons',
    {
      schema: {
        summary: 'Create a coupon: percent or fixed off per cycle (cycle null = every cycle)',
        body: z
          .object({
            guildId: snowflake,
            code: z.string().min(1).max(32),
            plan: z.string().max(32).optional().describe('plan code; absent = any plan of the guild'),
            maxRedemptions: z.number().int().min(1).optional(),
            expiresAt: z.iso.datetime().optional(),
            discounts: z
              .array(z.object({ cycle: z.enum(CYCLES).nullable(), percentOff: z.number().int().min(1).max(100).optional(), amountOff: z.string().regex(/^\d+(\.\d+)?$/).optional(), currency: z.string().max(16).optional() }))
              .min(1)
              .max(8),
            operator,
          })
          .strict(),
        response: { 200: couponSchema },
      },
    },
    async (req) =>
      couponJson(await billing.catalog.createCoupon(actorOf(req.body.operator), { ...req.body, expiresAt: req.body.expiresAt ? new Date(req.body.expiresAt) : null })),
  );
  api.post(
    '/coupons/:id/disable',
    { schema: { summary: 'Stop a coupon being redeemed', params, body: z.object({ operator }).strict().optional(), response: { 200: z.object({ id: z.string(), active: z.boolean() }) } } },
    async (req) => {
      const c = await billing.catalog.disableCoupon(actorOf(req.body?.operator), null, BigInt(req.params.id));
      return { id: c.id.toString(), active: c.active };
    },
  );

  // ---------------------------------------------------------------- invites
  api.get(
    '/invites',
    { schema: { summary: 'Invites to invite-only plans, newest first', querystring: z.object({ guildId: snowflake.optional(), limit: page.limit }), response: { 200: z.object({ items: z.array(inviteSchema) }) } } },
    async (req) => ({ items: (await billing.catalog.invites({ limit: req.query.limit, ...(req.query.guildId && { guildId: req.query.guildId }) })).map(inviteJson) }),
  );
  api.post(
    '/invites',
    {
      schema: {
        summary: 'Invite a member to an invite-only plan',
        body: z.object({ guildId: snowflake, plan: z.string().min(1).max(32), discordId: snowflake, username: z.string().max(64).optional(), days: z.number().int().min(1).max(365).optional(), operator }).strict(),
        response: { 200: inviteSchema },
      },
    },
    async (req) =>
      inviteJson(
        await billing.catalog.invite(actorOf(req.body.operator), {
          guildId: req.body.guildId,
          plan: req.body.plan,
          user: { discordId: req.body.discordId, username: req.body.username ?? req.body.discordId },
          ...(req.body.days !== undefined && { days: req.body.days }),
        }),
      ),
  );
  api.post(
    '/invites/:id/revoke',
    { schema: { summary: 'Revoke an open invite', params, body: z.object({ operator }).strict().optional(), response: { 200: inviteSchema } } },
    async (req) => inviteJson(await billing.catalog.revokeInvite(actorOf(req.body?.operator), null, BigInt(req.params.id))),
  );

  // ---------------------------------------------------------------- invoices
  api.get(
    '/invoices',
    {
      schema: {
        summary: 'Invoices, newest first',
        querystring: z.object({ guildId: snowflake.optional(), status: z.enum(INVOICE_STATUSES).optional(), ...page }),
        response: { 200: z.object({ items: z.array(invoiceSchema) }) },
      },
    },
    async (req) => ({
      items: (
        await billing.staff.invoices({
          limit: req.query.limit,
          ...(req.query.guildId && { guildId: req.query.guildId }),
          ...(req.query.status && { status: req.query.status }),
          ...(req.query.before && { beforeId: BigInt(req.query.before) }),
        })
      ).map(invoiceJson),
    }),
  );
  api.post(
    '/invoices/:id/refund',
    {
      schema: {
        summary: "Refund a paid invoice to the member's balance and end its subscription",
        params,
        body: z.object({ reason, operator }).strict(),
        response: { 200: z.object({ invoice: invoiceSchema, subscription: subscriptionSchema.nullable() }) },
      },
    },
    async (req) => {
      const out = await billing.staff.refund(actorOf(req.body.operator), null, BigInt(req.params.id), req.body.reason);
      return { invoice: invoiceJson(out.invoice), subscription: out.subscription ? subscriptionJson(out.subscription) : null };
    },
  );
  api.post(
    '/invoices/:id/cancel',
    { schema: { summary: 'Cancel an open invoice (partial payments go back to the balance)', params, body: z.object({ reason: reason.optional(), operator }).strict().optional(), response: { 200: invoiceSchema } } },
    async (req) => invoiceJson(await billing.staff.cancelInvoice(actorOf(req.body?.operator), null, BigInt(req.params.id), req.body?.reason ?? null)),
  );

  // ---------------------------------------------------------------- subscriptions
  api.get(
    '/subscriptions',
    {
      schema: {
        summary: 'Subscriptions, newest first',
        querystring: z.object({ guildId: snowflake.optional(), status: z.enum(SUBSCRIPTION_STATUSES).optional(), ...page }),
        response: { 200: z.object({ items: z.array(subscriptionSchema) }) },
      },
    },
    async (req) => ({
      items: (
        await billing.staff.subscriptions({
          limit: req.query.limit,
          ...(req.query.guildId && { guildId: req.query.guildId }),
          ...(req.query.status && { status: req.query.status }),
          ...(req.query.before && { beforeId: BigInt(req.query.before) }),
        })
      ).map(subscriptionJson),
    }),
  );
  const subBody = z.object({ reason: reason.optional(), operator }).strict().optional();
  api.post(
    '/subscriptions/:id/extend',
    { schema: { summary: 'Add days to a live subscription (from its expiry)', params, body: z.object({ days: z.number().int().min(1).max(3650), reason: reason.optional(), operator }).strict(), response: { 200: subscriptionSchema } } },
    async (req) => subscriptionJson(await billing.staff.extend(actorOf(req.body.operator), null, BigInt(req.params.id), req.body.days, req.body.reason ?? null)),
  );
  api.post(
    '/subscriptions/:id/cancel',
    { schema: { summary: 'End a live subscription now (role removed, no refund)', params, body: subBody, response: { 200: subscriptionSchema } } },
    async (req) => subscriptionJson(await billing.staff.cancel(actorOf(req.body?.operator), null, BigInt(req.params.id), req.body?.reason ?? null)),
  );
  api.post(
    '/subscriptions/:id/suspend',
    { schema: { summary: 'Suspend a subscription (role removed; only staff lift it)', params, body: subBody, response: { 200: subscriptionSchema } } },
    async (req) => subscriptionJson(await billing.staff.setSuspended(actorOf(req.body?.operator), null, BigInt(req.params.id), true, req.body?.reason ?? null)),
  );
  api.post(
    '/subscriptions/:id/unsuspend',
    { schema: { summary: 'Lift a suspension (role granted again)', params, body: subBody, response: { 200: subscriptionSchema } } },
    async (req) => subscriptionJson(await billing.staff.setSuspended(actorOf(req.body?.operator), null, BigInt(req.params.id), false, req.body?.reason ?? null)),
  );

  // ---------------------------------------------------------------- revenue
  api.get(
    '/revenue',
    {
      schema: {
        summary: "Membership revenue per currency (one guild's, or all guilds')",
        querystring: z.object({ guildId: snowflake.optional() }),
        response: { 200: z.object({ items: z.array(z.object({ currency: z.string(), amount: z.string().describe('base units') })) }) },
      },
    },
    async (req) => ({ items: [...(await billing.staff.revenue(req.query.guildId))].map(([currency, amount]) => ({ currency, amount: amount.toString() })) }),
  );
}
