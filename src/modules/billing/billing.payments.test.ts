import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { userError } from '../../testing/user-error';
import type { BillingService, Invoice } from './billing.service';

let t: TestDatabase;
let ctx: AppContext;
let billing: BillingService;
let f: Factory;
const SOL = 1_000_000_000n;
const GUILD = '900000000000000001';
const ROLE = '910000000000000001';
const staff = { discordId: '920000000000000001', via: 'discord' as const };
let seq = 0;
const nextId = () => `ia-${++seq}`;
const sig = () => `sig${++seq}`.padEnd(64, 'x');

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t);
  billing = ctx.services.billing;
  f = new Factory(t.db);
  await billing.catalog.createPlan(staff, {
    guildId: GUILD,
    code: 'vip',
    name: 'VIP',
    roleId: ROLE,
    prices: [
      { cycle: 'month', price: '1', currency: 'SOL' },
      { cycle: 'year', price: '10', currency: 'SOL', discountPercent: 10 },
    ],
  });
});
afterAll(async () => {
  await t?.drop();
});

const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });
const subscribe = (u: TestUser, o: { cycle?: 'month' | 'year'; interactionId?: string } = {}) =>
  billing.subscribe({ interactionId: o.interactionId ?? nextId(), guildId: GUILD, user: ref(u), plan: 'vip', cycle: o.cycle ?? 'month' });
const chainPay = (invoice: Invoice, amount: bigint, signature = sig(), at?: Date) =>
  t.db.transaction().execute((trx) => billing.applyPayment(trx, invoice.id, { source: 'chain', amount, signature, ...(at && { at }) }));
const balance = (u: TestUser) => ctx.services.ledger.balance(u.discordId, 'SOL');
const roleChanges = (u: TestUser) => t.db.selectFrom('billing_role_changes').selectAll().where('user_id', '=', u.id).orderBy('id').execute();

/** Σ member balances + Σ guild revenue = Σ external inflows, and each member's balance and each guild's revenue match the journal. */
async function conservation() {
  const { rows } = await sql<{ balances: string; revenue: string; inflow: string }>`
    select
      (select coalesce(sum(amount), 0) from account_balances where currency = 'SOL')::text as balances,
      (select coalesce(sum(amount), 0) from guild_revenue where currency = 'SOL')::text as revenue,
      (select coalesce(sum(amount), 0) from journal where currency = 'SOL' and type in ('admin_credit', 'invoice_deposit'))::text as inflow`.execute(t.db);
  const { rows: revenueDrift } = await sql`
    select r.guild_id from guild_revenue r
    where r.amount <> coalesce((select sum(case when j.type = 'subscription_payment' then j.amount else -j.amount end) from journal j
      where j.guild_id = r.guild_id and j.currency = r.currency and j.type in ('subscription_payment', 'subscription_refund')), 0)`.execute(t.db);
  const { rows: balanceDrift } = await sql`
    with moves as (
      select to_user_id as user_id, currency, amount from journal where to_user_id is not null
      union all select from_user_id, currency, -amount from journal where from_user_id is not null)
    select b.user_id from account_balances b
    where b.amount <> coalesce((select sum(m.amount) from moves m where m.user_id = b.user_id and m.currency = b.currency), 0)`.execute(t.db);
  const r = rows[0]!;
  return { balances: BigInt(r.balances), revenue: BigInt(r.revenue), inflow: BigInt(r.inflow), drift: [...revenueDrift, ...balanceDrift] };
}

describe('invoices', () => {
  it('numbers invoices per guild as INV-YYYY-NNNNNN and applies the cycle discount', async () => {
    const u = await f.user();
    const a = await subscribe(u);
    const b = await subscribe(u, { cycle: 'year' });
    const year = new Date().getUTCFullYear();
    expect(a.invoice.number).toMatch(new RegExp(`^INV-${year}-\\d{6}$`));
    expect(Number(b.invoice.number.slice(-6))).toBe(Number(a.invoice.number.slice(-6)) + 1);
    expect(b.invoice).toMatchObject({ subtotal: 10n * SOL, discount: SOL, amount: 9n * SOL, status: 'CREATED', currency: 'SOL', mint: null });
    const first = await subscribe(u, { interactionId: 'retried-subscribe' });
    const retry = await subscribe(u, { interactionId: 'retried-subscribe' });
    expect([first.replayed, retry.replayed, retry.invoice.id]).toEqual([false, true, first.invoice.id]);
  });

  it('is never PAID after EXPIRED: the trigger refuses the move, and a late payment is credited to the balance', async () => {
    const u = await f.user();
    const { invoice } = await subscribe(u);
    const closed = await t.db.transaction().execute((trx) => billing.closeOpenInvoice(trx, invoice.id, 'EXPIRED'));
    expect(closed).toMatchObject({ changed: true, invoice: { status: 'EXPIRED' } });
    await expect(t.db.updateTable('billing_invoices').set({ status: 'PAID', paid_at: new Date(), paid_amount: SOL.toString() }).where('id', '=', invoice.id).execute()).rejects.toThrow(
      /cannot move from EXPIRED to PAID/,
    );
    await expect(t.db.updateTable('billing_invoices').set({ status: 'PENDING' }).where('id', '=', invoice.id).execute()).rejects.toThrow(/cannot move/);

    const late = await chainPay(invoice, SOL);
    expect(late).toMatchObject({ outcome: 'late', applied: 0n, credited: SOL, invoice: { status: 'EXPIRED' } });
    expect(await balance(u)).toBe(SOL);
    expect(await roleChanges(u)).toEqual([]);
    expect((await userError(billing.payFromBalance(invoice.id, ref(u)))).code).toBe('INVOICE_EXPIRED');
    expect(await balance(u)).toBe(SOL);

    // Paid on chain after rate_locked_until (the expiry job has not run yet): the payment expires the invoice first.
    const second = await subscribe(u);
    const afterLock = await chainPay(second.invoice, SOL, sig(), new Date(second.invoice.rate_locked_until.getTime() + 1));
    expect(afterLock).toMatchObject({ outcome: 'late', invoice: { status: 'EXPIRED' } });
    expect(await balance(u)).toBe(2n * SOL);
    expect(await t.db.selectFrom('billing_subscriptions').select('id').where('user_id', '=', u.id).execute()).toEqual([]);
    const c = await conservation();
    expect(c.drift).toEqual([]);
    expect(c.balances + c.revenue).toBe(c.inflow);
  });

  it('a signature pays once, whichever invoice it names', async () => {
    const u = await f.user();
    const a = await subscribe(u);
    const b = await subscribe(u);
    const s = sig();
    expect((await chainPay(a.invoice, SOL, s)).outcome).toBe('paid');
    expect((await chainPay(a.invoice, SOL, s)).outcome).toBe('replayed');
    expect((await chainPay(b.invoice, SOL, s)).outcome).toBe('replayed');
    const concurrent = await Promise.all(Array.from({ length: 6 }, () => chainPay(b.invoice, SOL, s)));
    expect(concurrent.map((r) => r.outcome)).toEqual(Array(6).fill('replayed'));
    expect((await billing.invoice(b.invoice.id))?.status).toBe('CREATED');
    expect(await t.db.selectFrom('billing_invoice_payments').select('id').where('signature', '=', s).execute()).toHaveLength(1);
    expect(await t.db.selectFrom('journal').select('id').where('idempotency_key', 'like', `%${s}`).execute()).toHaveLength(2);
    const c = await conservation();
    expect(c.drift).toEqual([]);
    expect(c.balances + c.revenue).toBe(c.inflow);
  });

  it('partial payments add up; the excess of an overpayment is credited to the balance', async () => {
    const u = await f.user();
    const { invoice } = await subscribe(u);
    const first = await chainPay(invoice, 400_000_000n);
    expect(first).toMatchObject({ outcome: 'partial', applied: 400_000_000n, credited: 0n, invoice: { status: 'PENDING', paid_amount: 400_000_000n } });
    const short = await chainPay(invoice, 599_999_999n);
    expect(short).toMatchObject({ outcome: 'partial', invoice: { status: 'PENDING', paid_amount: SOL - 1n } });
    const last = await chainPay(invoice, 500_000_000n);
    expect(last).toMatchObject({ outcome: 'paid', applied: 1n, credited: 499_999_999n, invoice: { status: 'PAID', paid_amount: SOL } });
    expect(last.subscription).toMatchObject({ status: 'ACTIVE', user_id: u.id, cycle: 'month' });
    expect(await balance(u)).toBe(499_999_999n);
    const journal = await t.db.selectFrom('journal').select(['type', 'amount']).where('ref', '=', `invoice:${invoice.id}`).orderBy('id').execute();
    expect(journal.filter((j) => j.type === 'subscription_payment').reduce((s, j) => s + j.amount, 0n)).toBe(SOL);
    expect(journal.filter((j) => j.type === 'invoice_deposit').reduce((s, j) => s + j.amount, 0n)).toBe(1_499_999_999n);
    const c = await conservation();
    expect(c.drift).toEqual([]);
    expect(c.balances + c.revenue).toBe(c.inflow);
  });

  it('an expiring partially paid invoice returns what it took to the balance and releases nothing else', async () => {
    const u = await f.user();
    const { invoice } = await subscribe(u);
    await chainPay(invoice, 300_000_000n);
    const closed = await t.db.transaction().execute((trx) => billing.closeOpenInvoice(trx, invoice.id, 'EXPIRED'));
    expect(closed).toMatchObject({ changed: true, returned: 300_000_000n, invoice: { status: 'EXPIRED' } });
    expect(await balance(u)).toBe(300_000_000n);
    expect((await t.db.transaction().execute((trx) => billing.closeOpenInvoice(trx, invoice.id, 'CANCELED'))).changed).toBe(false);
    const c = await conservation();
    expect(c.drift).toEqual([]);
    expect(c.balances + c.revenue).toBe(c.inflow);
  });
});

describe('paying from balance', () => {
  it('one transaction: debit, revenue, PAID, subscription, role grant; a double click moves nothing twice', async () => {
    const u = await f.user();
    await f.balance(u, { amount: 3n * SOL });
    const { invoice } = await subscribe(u);
    const clicks = await Promise.allSettled(Array.from({ length: 5 }, () => billing.payFromBalance(invoice.id, ref(u))));
    expect(clicks.map((c) => c.status)).toEqual(Array(5).fill('fulfilled'));
    const results = clicks.map((c) => (c as PromiseFulfilledResult<Awaited<ReturnType<BillingService['payFromBalance']>>>).value);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(results.every((r) => r.invoice.status === 'PAID' && r.subscription?.status === 'ACTIVE')).toBe(true);
    expect(await balance(u)).toBe(2n * SOL);
    expect(await t.db.selectFrom('guild_revenue').select('amount').where('guild_id', '=', GUILD).executeTakeFirst()).toBeDefined();
    expect((await roleChanges(u)).map((r) => [r.op, r.role_id, r.guild_id])).toEqual([['add', ROLE, GUILD]]);
    const c = await conservation();
    expect(c.drift).toEqual([]);
    expect(c.balances + c.revenue).toBe(c.inflow);
  });

  it('insufficient balance changes nothing', async () => {
    const u = await f.user();
    await f.balance(u, { amount: SOL - 1n });
    const { invoice } = await subscribe(u);
    const err = await userError(billing.payFromBalance(invoice.id, ref(u)));
    expect(err.code).toBe('INSUFFICIENT_FUNDS');
    expect(err.message).toContain('needs 1 SOL');
    expect(await balance(u)).toBe(SOL - 1n);
    expect((await billing.invoice(invoice.id))).toMatchObject({ status: 'CREATED', paid_amount: 0n });
    expect(await t.db.selectFrom('billing_invoice_payments').select('id').where('invoice_id', '=', invoice.id).execute()).toEqual([]);
    expect(await roleChanges(u)).toEqual([]);
  });

  it('past its rate lock (expiry job not run yet) the quote no longer holds: refused, nothing changes', async () => {
    const u = await f.user();
    await f.balance(u);
    const { invoice } = await subscribe(u);
    await t.db.updateTable('billing_invoices').set({ rate_locked_until: new Date(Date.now() - 1000) }).where('id', '=', invoice.id).execute();
    expect((await userError(billing.payFromBalance(invoice.id, ref(u)))).code).toBe('INVOICE_EXPIRED');
    expect(await balance(u)).toBe(10n * SOL);
    expect((await billing.invoice(invoice.id))?.status).toBe('CREATED');
    expect(await roleChanges(u)).toEqual([]);
  });

  it("someone else's invoice is not found", async () => {
    const u = await f.user();
    const other = await f.user();
    await f.balance(other);
    const { invoice } = await subscribe(u);
    expect((await userError(billing.payFromBalance(invoice.id, ref(other)))).code).toBe('INVOICE_NOT_FOUND');
    expect(await balance(other)).toBe(10n * SOL);
  });
});

describe('subscriptions', () => {
  it('renewal extends from the current expiry, not from now; statuses only move forward', async () => {
    const u = await f.user();
    await f.balance(u, { amount: 5n * SOL });
    const first = await billing.payFromBalance((await subscribe(u)).invoice.id, ref(u));
    const sub = first.subscription!;
    const renewal = await subscribe(u);
    expect(renewal.invoice.kind).toBe('renewal');
    const second = await billing.payFromBalance(renewal.invoice.id, ref(u));
    expect(second.subscription!.id).toBe(sub.id);
    const months = (d: Date) => d.getUTCFullYear() * 12 + d.getUTCMonth();
    expect(months(second.subscription!.expires_at) - months(sub.expires_at)).toBe(1);
    expect(second.subscription!.expires_at.getTime()).toBeGreaterThan(sub.expires_at.getTime());

    const ended = await t.db.transaction().execute((trx) => billing.endSubscription(trx, sub.id, 'EXPIRED', 'test'));
    expect(ended).toMatchObject({ status: 'EXPIRED', inactive_since: expect.any(Date) });
    await expect(t.db.updateTable('billing_subscriptions').set({ status: 'ACTIVE', inactive_since: null }).where('id', '=', sub.id).execute()).rejects.toThrow(/cannot move from EXPIRED to ACTIVE/);
    await expect(t.db.updateTable('billing_subscriptions').set({ expires_at: new Date(Date.now() + 1e10) }).where('id', '=', sub.id).execute()).rejects.toThrow(/cannot be extended/);
    expect((await roleChanges(u)).map((r) => r.op)).toEqual(['add', 'add', 'remove']);

    // After expiry a payment starts a new subscription from now.
    const again = await billing.payFromBalance((await subscribe(u)).invoice.id, ref(u));
    expect(again.subscription!.id).not.toBe(sub.id);
    expect(again.subscription!.active_since.getTime()).toBeGreaterThan(sub.active_since.getTime());
  });

  it('one live subscription per (member, plan), even when two invoices are paid at once', async () => {
    const u = await f.user();
    await f.balance(u, { amount: 5n * SOL });
    const invoices = await Promise.all([subscribe(u), subscribe(u), subscribe(u)]);
    const paid = await Promise.all(invoices.map((i) => billing.payFromBalance(i.invoice.id, ref(u))));
    expect(new Set(paid.map((p) => p.subscription!.id)).size).toBe(1);
    const live = await t.db.selectFrom('billing_subscriptions').selectAll().where('user_id', '=', u.id).execute();
    expect(live).toHaveLength(1);
    const months = (d: Date) => d.getUTCFullYear() * 12 + d.getUTCMonth();
    expect(months(live[0]!.expires_at) - months(live[0]!.active_since)).toBe(3);
  });

  it('the role grant is written in the activation transaction: a rollback leaves no outbox row', async () => {
    const u = await f.user();
    await f.balance(u);
    const { invoice } = await subscribe(u);
    await expect(
      t.db.transaction().execute(async (trx) => {
        await billing.applyPayment(trx, invoice.id, { source: 'balance' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await roleChanges(u)).toEqual([]);
    expect(await balance(u)).toBe(10n * SOL);
    expect((await billing.invoice(invoice.id))?.status).toBe('CREATED');
  });
});

describe('webhook events', () => {
  it('invoice.paid and subscription.activated|renewed|canceled are written in the changing transaction', async () => {
    const u = await f.user();
    await f.balance(u);
    const hooks = createTestContext(t, { WEBHOOKS_ALLOW_PRIVATE: 'true' });
    const { client } = await hooks.services.quota.createClient(u, { name: 'billing-hooks', environment: 'dev' });
    const env = await t.db.selectFrom('api_client_environments').select('id').where('client_id', '=', client.id).executeTakeFirstOrThrow();
    await hooks.services.webhooks.createEndpoint({
      environmentId: env.id,
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['invoice.paid', 'subscription.activated', 'subscription.renewed', 'subscription.expired', 'subscription.canceled'],
    });
    const events = () => t.db.selectFrom('webhook_events').select(['type', 'payload']).where('owner_user_id', '=', u.id).orderBy('created_at').orderBy('id').execute();

    const first = await billing.payFromBalance((await subscribe(u)).invoice.id, ref(u));
    await billing.payFromBalance((await subscribe(u)).invoice.id, ref(u));
    // A failed payment leaves no event behind.
    const doomed = await subscribe(u);
    await expect(
      t.db.transaction().execute(async (trx) => {
        await billing.applyPayment(trx, doomed.invoice.id, { source: 'balance' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await t.db.transaction().execute((trx) => billing.endSubscription(trx, first.subscription!.id, 'CANCELED', 'test'));

    const got = await events();
    expect(got.map((e) => e.type).sort()).toEqual(['invoice.paid', 'invoice.paid', 'subscription.activated', 'subscription.canceled', 'subscription.renewed'].sort());
    expect(got.find((e) => e.type === 'invoice.paid')!.payload).toMatchObject({ discordId: u.discordId, guildId: GUILD, plan: 'vip', amount: SOL.toString(), currency: 'SOL' });
    expect(got.find((e) => e.type === 'subscription.canceled')!.payload).toMatchObject({ subscriptionId: String(first.subscription!.id), status: 'CANCELED' });
  });
});
