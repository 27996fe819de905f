import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import type { UserError } from '../../errors';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { userError } from '../../testing/user-error';
import type { BillingRolesDiscord } from './billing-roles.discord';
import { drainRoleOutbox } from './billing.role-sync';
import type { BillingService } from './billing.service';

let t: TestDatabase;
let ctx: AppContext;
let billing: BillingService;
let f: Factory;
const SOL = 1_000_000_000n;
const GUILD = '930000000000000001';
const OTHER_GUILD = '930000000000000002';
const staff = { discordId: '940000000000000001', via: 'discord' as const };
const LOG_CHANNEL = '960000000000000001';
/** A role Discord refuses for good (placed above the bot's highest role). */
const ROLE_ABOVE_BOT = '950000000000000003';
const roleCalls: string[] = [];
const posts: string[] = [];
/**
 * The membership roles port as a recorder: which role calls the outbox drain made, in order, and what it posted to
 * the log channel. (billing-jobs.e2e.test.ts drives the same drain through the Discord emulator.)
 */
const discord: BillingRolesDiscord = {
  applyRole: async (g, u, r, op) => {
    roleCalls.push(`${op} ${g} ${u} ${r}`);
    return r === ROLE_ABOVE_BOT ? { ok: false, permanent: true, problem: 'role_above_bot', message: '403 50013: Missing Permissions' } : { ok: true };
  },
  guildMembers: async () => undefined,
  dm: async () => true,
  post: async (channelId, content) => {
    posts.push(`${channelId} ${content}`);
    return true;
  },
  takeJoins: () => [],
};
const directory = { lookup: async () => ({ textChannelIds: new Set([LOG_CHANNEL]), channelIds: new Set([LOG_CHANNEL]), roleIds: new Set<string>() }) };
const drain = () => drainRoleOutbox(ctx);
let seq = 0;

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t, {}, { billingRoles: discord, guildDirectory: directory });
  billing = ctx.services.billing;
  f = new Factory(t.db);
  const plan = (code: string, o: { inviteOnly?: boolean; trialDays?: number; roleId?: string; guildId?: string } = {}) =>
    billing.catalog.createPlan(staff, {
      guildId: o.guildId ?? GUILD,
      code,
      name: code.toUpperCase(),
      roleId: o.roleId ?? '950000000000000001',
      ...(o.inviteOnly !== undefined && { inviteOnly: o.inviteOnly }),
      ...(o.trialDays !== undefined && { trialDays: o.trialDays }),
      prices: [
        { cycle: 'month', price: '1', currency: 'SOL' },
        { cycle: 'year', price: '10', currency: 'SOL' },
      ],
    });
  await plan('basic');
  await plan('pro', { roleId: '950000000000000001' });
  await plan('secret', { inviteOnly: true, trialDays: 7 });
  await plan('trial', { trialDays: 3, roleId: '950000000000000002' });
  await plan('elsewhere', { guildId: OTHER_GUILD });
  await plan('vip', { roleId: ROLE_ABOVE_BOT });
  await ctx.services.guilds.update(GUILD, { logChannelId: LOG_CHANNEL }, staff);
});
afterAll(async () => {
  await t?.drop();
});

const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });
const subscribe = (u: TestUser, plan: string, o: { coupon?: string; cycle?: 'month' | 'year' } = {}) =>
  billing.subscribe({ interactionId: `svc-${++seq}`, guildId: GUILD, user: ref(u), plan, cycle: o.cycle ?? 'month', coupon: o.coupon ?? null });

/** Every billing table and the money, to prove a refused request changed nothing. */
const snapshot = () =>
  Promise.all(
    ['billing_invoices', 'billing_invoice_payments', 'billing_subscriptions', 'billing_coupons', 'billing_coupon_redemptions', 'billing_invites', 'billing_trial_uses', 'billing_role_changes', 'guild_revenue', 'journal'].map(
      async (table) => (await sql`SELECT * FROM ${sql.table(table)} ORDER BY 1, 2`.execute(t.db)).rows,
    ),
  );

describe('checkout refusals change nothing', () => {
  it('unknown or archived plan, another guild’s plan, invite-only without invite, trial twice', async () => {
    const u = await f.user();
    await billing.catalog.createPlan(staff, { guildId: GUILD, code: 'old', name: 'Old', roleId: '950000000000000009', prices: [{ cycle: 'month', price: '1', currency: 'SOL' }] });
    const old = await billing.catalog.plan(GUILD, 'old');
    await billing.catalog.archivePlan(staff, GUILD, old.id);
    const before = await snapshot();
    expect((await userError(subscribe(u, 'nope'))).code).toBe('PLAN_NOT_FOUND');
    expect((await userError(subscribe(u, 'old'))).code).toBe('PLAN_ARCHIVED');
    expect((await userError(subscribe(u, 'elsewhere'))).code).toBe('PLAN_NOT_FOUND');
    expect((await userError(subscribe(u, 'secret'))).code).toBe('INVITE_REQUIRED');
    expect((await userError(billing.startTrial({ guildId: GUILD, user: ref(u), plan: 'secret' }))).code).toBe('INVITE_REQUIRED');
    expect((await userError(billing.startTrial({ guildId: GUILD, user: ref(u), plan: 'basic' }))).code).toBe('NO_TRIAL');
    expect((await userError(billing.subscribe({ interactionId: 'bad-currency', guildId: GUILD, user: ref(u), plan: 'basic', cycle: 'month', currency: 'DOGE' }))).code).toBe('UNKNOWN_CURRENCY');
    expect((await userError(billing.subscribe({ interactionId: 'not-sold-in', guildId: GUILD, user: ref(u), plan: 'basic', cycle: 'month', currency: 'USDC' }))).code).toBe('PRICE_NOT_FOUND');
    expect((await userError(billing.subscribe({ interactionId: 'bad-cycle', guildId: GUILD, user: ref(u), plan: 'basic', cycle: 'quarter' }))).code).toBe('PRICE_NOT_FOUND');
    expect(await snapshot()).toEqual(before);

    const trial = await billing.startTrial({ guildId: GUILD, user: ref(u), plan: 'trial' });
    expect(trial).toMatchObject({ trial: true, status: 'ACTIVE' });
    expect(trial.expires_at.getTime() - trial.active_since.getTime()).toBe(3 * 86_400_000);
    await t.db.transaction().execute((trx) => billing.endSubscription(trx, trial.id, 'EXPIRED', 'test'));
    const afterTrial = await snapshot();
    // Twice, and racing: the per-guild trial claim admits none.
    const racing = await Promise.allSettled([1, 2, 3].map(() => billing.startTrial({ guildId: GUILD, user: ref(u), plan: 'trial' })));
    expect(racing.map((r) => r.status === 'rejected' && (r.reason as UserError).code)).toEqual(['TRIAL_USED', 'TRIAL_USED', 'TRIAL_USED']);
    expect(await snapshot()).toEqual(afterTrial);
  });

  it('an invite admits once: accepted with the paid invoice, then a new member needs a new one', async () => {
    const u = await f.user();
    await f.balance(u);
    const invite = await billing.catalog.invite(staff, { guildId: GUILD, plan: 'secret', user: ref(u) });
    expect((await userError(billing.catalog.invite(staff, { guildId: GUILD, plan: 'secret', user: ref(u) }))).code).toBe('ALREADY_INVITED');
    const { invoice } = await subscribe(u, 'secret');
    expect(invoice.invite_id).toBe(invite.id);
    const paid = await billing.payFromBalance(invoice.id, ref(u));
    expect(paid.subscription?.status).toBe('ACTIVE');
    expect((await billing.catalog.invites({ guildId: GUILD })).find((i) => i.id === invite.id)?.accepted_at).toBeInstanceOf(Date);
    // A renewal needs no invite: the live subscription admits it.
    expect((await subscribe(u, 'secret')).invoice.kind).toBe('renewal');
  });
});

describe('coupons', () => {
  it('percent and fixed per cycle; expired, used-up, other-plan and once-per-member are refused', async () => {
    const [a, b] = [await f.user(), await f.user()];
    await billing.catalog.createCoupon(staff, { guildId: GUILD, code: 'TENOFF', discounts: [{ cycle: 'year', percentOff: 10 }, { cycle: null, amountOff: '0.25', currency: 'SOL' }] });
    expect((await subscribe(a, 'basic', { coupon: 'tenoff', cycle: 'year' })).invoice).toMatchObject({ subtotal: 10n * SOL, discount: SOL, amount: 9n * SOL });
    expect((await userError(subscribe(a, 'basic', { coupon: 'TENOFF' }))).code).toBe('COUPON_ALREADY_REDEEMED');
    expect((await subscribe(b, 'basic', { coupon: 'TENOFF' })).invoice).toMatchObject({ discount: SOL / 4n, amount: (3n * SOL) / 4n });

    await billing.catalog.createCoupon(staff, { guildId: GUILD, code: 'PROONLY', plan: 'pro', discounts: [{ cycle: null, percentOff: 50 }] });
    await billing.catalog.createCoupon(staff, { guildId: GUILD, code: 'SOON', expiresAt: new Date(Date.now() + 60_000), discounts: [{ cycle: null, percentOff: 50 }] });
    await t.db.updateTable('billing_coupons').set({ expires_at: new Date(Date.now() - 1000) }).where('code', '=', 'SOON').execute();
    await billing.catalog.createCoupon(staff, { guildId: GUILD, code: 'ONE', maxRedemptions: 1, discounts: [{ cycle: null, percentOff: 100 }] });
    await billing.catalog.createCoupon(staff, { guildId: OTHER_GUILD, code: 'THEIRS', discounts: [{ cycle: null, percentOff: 50 }] });
    const c = await f.user();
    await subscribe(c, 'basic', { coupon: 'ONE' });
    const before = await snapshot();
    const d = await f.user();
    expect((await userError(subscribe(d, 'basic', { coupon: 'PROONLY' }))).code).toBe('COUPON_OTHER_PLAN');
    expect((await userError(subscribe(d, 'basic', { coupon: 'SOON' }))).code).toBe('COUPON_EXPIRED');
    expect((await userError(subscribe(d, 'basic', { coupon: 'ONE' }))).code).toBe('COUPON_USED_UP');
    expect((await userError(subscribe(d, 'basic', { coupon: 'THEIRS' }))).code).toBe('COUPON_UNKNOWN');
    expect((await userError(subscribe(d, 'basic', { coupon: 'nosuch' }))).code).toBe('COUPON_UNKNOWN');
    expect(await snapshot()).toEqual(before);
  });

  it('a 100 % coupon settles the invoice at once', async () => {
    const u = await f.user();
    await billing.catalog.createCoupon(staff, { guildId: GUILD, code: 'FREE', discounts: [{ cycle: null, percentOff: 100 }] });
    const { invoice } = await subscribe(u, 'pro', { coupon: 'FREE' });
    expect(invoice).toMatchObject({ amount: 0n, status: 'PAID', subscription_id: expect.any(BigInt) });
  });

  it('members racing for the last use: exactly one wins; an expired unpaid invoice gives the use back', async () => {
    await billing.catalog.createCoupon(staff, { guildId: GUILD, code: 'LAST', maxRedemptions: 1, discounts: [{ cycle: null, percentOff: 20 }] });
    const racers = await Promise.all(Array.from({ length: 8 }, () => f.user()));
    const results = await Promise.allSettled(racers.map((r) => subscribe(r, 'basic', { coupon: 'LAST' })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as UserError).code)).toEqual(Array(7).fill('COUPON_USED_UP'));
    const coupon = (await billing.catalog.coupons({ guildId: GUILD })).find((x) => x.code === 'LAST')!;
    expect(coupon.redemptions).toBe(1);

    const invoice = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof subscribe>>>).value.invoice;
    await t.db.transaction().execute((trx) => billing.closeOpenInvoice(trx, invoice.id, 'EXPIRED'));
    expect((await billing.catalog.coupons({ guildId: GUILD })).find((x) => x.code === 'LAST')!.redemptions).toBe(0);
    expect((await subscribe(racers[1]!, 'basic', { coupon: 'LAST' })).invoice.coupon_id).toBe(coupon.id);
  });
});

describe('staff actions and roles', () => {
  it('suspend removes the role, unsuspend grants it, refund ends it; another guild’s staff see nothing; each audited', async () => {
    const u = await f.user();
    await f.balance(u);
    const { subscription } = await billing.payFromBalance((await subscribe(u, 'basic')).invoice.id, ref(u));
    const id = subscription!.id;
    expect((await userError(billing.staff.setSuspended(staff, OTHER_GUILD, id, true))).code).toBe('SUBSCRIPTION_NOT_FOUND');
    expect((await userError(billing.staff.refund(staff, OTHER_GUILD, subscription!.last_invoice_id!, 'x'))).code).toBe('INVOICE_NOT_FOUND');
    expect((await userError(billing.catalog.archivePlan(staff, OTHER_GUILD, (await billing.catalog.plan(GUILD, 'basic')).id))).code).toBe('PLAN_NOT_FOUND');

    roleCalls.length = 0;
    await drain();
    roleCalls.length = 0;
    expect((await billing.staff.setSuspended(staff, GUILD, id, true, 'chargeback')).status).toBe('SUSPENDED');
    expect((await userError(billing.staff.setSuspended(staff, GUILD, id, true))).code).toBe('SUBSCRIPTION_STATE');
    // A payment extends a suspended subscription but never lifts the suspension.
    const renewed = await billing.payFromBalance((await subscribe(u, 'basic')).invoice.id, ref(u));
    expect(renewed.subscription).toMatchObject({ id, status: 'SUSPENDED' });
    expect(await drain()).toEqual({ applied: 1, skipped: 0, retried: 0, failed: 0, rejoins: 0 });
    expect(roleCalls).toEqual([`remove ${GUILD} ${u.discordId} 950000000000000001`]);
    expect((await billing.staff.setSuspended(staff, GUILD, id, false)).status).toBe('ACTIVE');
    const extended = await billing.staff.extend(staff, GUILD, id, 5);
    expect(extended.expires_at.getTime() - renewed.subscription!.expires_at.getTime()).toBe(5 * 86_400_000);

    const { invoice, subscription: ended } = await billing.staff.refund(staff, GUILD, renewed.invoice.id, 'goodwill');
    expect(invoice).toMatchObject({ status: 'REFUNDED', refunded_amount: SOL });
    expect(ended).toMatchObject({ status: 'CANCELED' });
    expect(await ctx.services.ledger.balance(u.discordId, 'SOL')).toBe(9n * SOL);
    roleCalls.length = 0;
    // The unsuspend and the extension queued grants, the refund a removal: the drain checks each row against the
    // member's subscriptions now, so the stale grants are finished without a call and only the removal is made.
    expect(await drain()).toEqual({ applied: 1, skipped: 2, retried: 0, failed: 0, rejoins: 0 });
    expect(roleCalls).toEqual([`remove ${GUILD} ${u.discordId} 950000000000000001`]);

    const audit = await t.db.selectFrom('audit_events').select('action').where('target', '=', `subscription:${id}`).orderBy('id').execute();
    expect(audit.map((a) => a.action)).toEqual(['billing.subscription_suspend', 'billing.subscription_unsuspend', 'billing.subscription_extend']);
    expect(await t.db.selectFrom('audit_events').select('reason').where('action', '=', 'billing.invoice_refund').where('target', '=', `invoice:${invoice.id}`).execute()).toEqual([{ reason: 'goodwill' }]);
  });

  it('a removal is skipped while another live subscription grants the same role', async () => {
    const u = await f.user();
    await f.balance(u);
    await billing.payFromBalance((await subscribe(u, 'basic')).invoice.id, ref(u));
    const pro = await billing.payFromBalance((await subscribe(u, 'pro')).invoice.id, ref(u));
    await drain();
    roleCalls.length = 0;
    await t.db.transaction().execute((trx) => billing.endSubscription(trx, pro.subscription!.id, 'EXPIRED', 'test'));
    expect(await drain()).toEqual({ applied: 0, skipped: 1, retried: 0, failed: 0, rejoins: 0 });
    expect(roleCalls).toEqual([]);
  });

  it('the immediate drain after a click applies only that member’s rows', async () => {
    const [a, b] = [await f.user(), await f.user()];
    await f.balance(a);
    await f.balance(b);
    await drain();
    const paidA = await billing.payFromBalance((await subscribe(a, 'basic')).invoice.id, ref(a));
    await billing.payFromBalance((await subscribe(b, 'basic')).invoice.id, ref(b));
    roleCalls.length = 0;
    expect(await drainRoleOutbox(ctx, { userId: paidA.invoice.user_id })).toMatchObject({ applied: 1, failed: 0 });
    expect(roleCalls).toEqual([`add ${GUILD} ${a.discordId} 950000000000000001`]);
    expect(await drain()).toMatchObject({ applied: 1 });
    expect(roleCalls).toEqual([`add ${GUILD} ${a.discordId} 950000000000000001`, `add ${GUILD} ${b.discordId} 950000000000000001`]);
  });

  it('a role Discord refuses for good is marked failed and alerted once in the log channel', async () => {
    const [a, b] = [await f.user(), await f.user()];
    await f.balance(a);
    await f.balance(b);
    await drain();
    posts.length = 0;
    await billing.payFromBalance((await subscribe(a, 'vip')).invoice.id, ref(a));
    expect(await drain()).toEqual({ applied: 0, skipped: 0, retried: 0, failed: 1, rejoins: 0 });
    await billing.payFromBalance((await subscribe(b, 'vip')).invoice.id, ref(b));
    expect(await drain()).toEqual({ applied: 0, skipped: 0, retried: 0, failed: 1, rejoins: 0 });
    expect(posts).toEqual([`${LOG_CHANNEL} ⚠️ Memberships: I cannot give members <@&${ROLE_ABOVE_BOT}>: it sits at or above my highest role. Fix: Server Settings → Roles, drag my role above <@&${ROLE_ABOVE_BOT}>. Once fixed, the membership role sync (every 15 minutes) repairs every member.`]);
    // Failed for good: nothing is left due for a retry.
    const rows = await t.db.selectFrom('billing_role_changes').select(['failed_at', 'done_at']).where('role_id', '=', ROLE_ABOVE_BOT).execute();
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.failed_at instanceof Date && r.done_at instanceof Date)).toBe(true);
  });
});
