import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { expireInvoices, expireSubscriptions, renewSubscriptions, RENEW_AHEAD_HOURS } from './billing-jobs';
import { drainRoleOutbox } from './billing.role-sync';
import type { Subscription } from './billing.service';

// The membership jobs on a real database, without Discord (the e2e tests drive the Discord side).

let t: TestDatabase;
let ctx: AppContext;
let f: Factory;
const SOL = 1_000_000_000n;
const GUILD = '900000000000000077';
const ROLE = '910000000000000077';
const staff = { discordId: '920000000000000077', via: 'discord' as const };
const HOUR = 3_600_000;
let seq = 0;

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t);
  f = new Factory(t.db);
  await ctx.services.billing.catalog.createPlan(staff, { guildId: GUILD, code: 'pro', name: 'Pro', roleId: ROLE, prices: [{ cycle: 'month', price: '1', currency: 'SOL' }] });
  await ctx.services.billing.catalog.createPlan(staff, {
    guildId: GUILD,
    code: 'tryme',
    name: 'Try me',
    roleId: '910000000000000078',
    trialDays: 7,
    prices: [{ cycle: 'month', price: '1', currency: 'SOL' }],
  });
});
afterAll(async () => {
  await t?.drop();
});

const byId = (a: bigint, b: bigint) => (a < b ? -1 : 1);
const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });

async function subscribed(sol = 2n): Promise<{ user: TestUser; subscription: Subscription }> {
  const user = await f.user();
  if (sol > 0n) await f.balance(user, { amount: sol * SOL });
  const checkout = await ctx.services.billing.subscribe({ interactionId: `jobs-${++seq}`, guildId: GUILD, user: ref(user), plan: 'pro', cycle: 'month' });
  const paid = await ctx.services.billing.payFromBalance(checkout.invoice.id, ref(user));
  return { user, subscription: paid.subscription! };
}

const invoicesOf = (u: TestUser) => t.db.selectFrom('billing_invoices').selectAll().where('user_id', '=', u.id).orderBy('id').execute();
const removals = (ids: bigint[]) => t.db.selectFrom('billing_role_changes').select(['subscription_id', 'op', 'role_id']).where('op', '=', 'remove').where('subscription_id', 'in', ids).execute();

describe('subscription-expiry', () => {
  it('ends every due ACTIVE subscription in batches, queues each role removal once, and leaves the rest alone', async () => {
    const due = await Promise.all(Array.from({ length: 7 }, () => subscribed()));
    const { subscription: later } = await subscribed();
    const cutoff = new Date(Math.max(...due.map((d) => d.subscription.expires_at.getTime())) + 1000);
    // The later one expires after the cutoff.
    await t.db.updateTable('billing_subscriptions').set({ expires_at: new Date(cutoff.getTime() + HOUR) }).where('id', '=', later.id).execute();
    const { subscription: suspended } = await subscribed();
    // Suspended and not yet due (a due suspended one ends too: the next test).
    await t.db
      .updateTable('billing_subscriptions')
      .set({ status: 'SUSPENDED', inactive_since: sql`now()`, expires_at: new Date(cutoff.getTime() + HOUR) })
      .where('id', '=', suspended.id)
      .execute();

    // Two runs at once (a second replica): SKIP LOCKED keeps them disjoint.
    const runs = await Promise.all([expireSubscriptions(ctx, { now: cutoff, batchSize: 2 }), expireSubscriptions(ctx, { now: cutoff, batchSize: 3 })]);
    expect(runs[0]!.expired + runs[1]!.expired).toBe(9 - 2);
    expect(runs[0]!.batches).toBeGreaterThan(1);
    const ids = due.map((d) => d.subscription.id).sort(byId);
    const rows = await t.db.selectFrom('billing_subscriptions').select(['id', 'status', 'inactive_since']).where('id', 'in', [...ids, later.id, suspended.id]).orderBy('id').execute();
    expect(rows.filter((r) => r.status === 'EXPIRED').map((r) => r.id)).toEqual(ids);
    expect(rows.filter((r) => r.status === 'EXPIRED').every((r) => r.inactive_since?.getTime() === cutoff.getTime())).toBe(true);
    expect(rows.find((r) => r.id === later.id)?.status).toBe('ACTIVE');
    expect(rows.find((r) => r.id === suspended.id)?.status).toBe('SUSPENDED');
    expect((await removals(ids)).map((r) => r.subscription_id!).sort(byId)).toEqual(ids);
    expect(await expireSubscriptions(ctx, { now: cutoff })).toMatchObject({ expired: 0 });
  });

  it('ends a SUSPENDED subscription at its expiry too: EXPIRED, still inactive since its suspension, role removal queued', async () => {
    const { subscription } = await subscribed();
    await ctx.services.billing.staff.setSuspended(staff, GUILD, subscription.id, true, 'chargeback');
    const suspended = (await ctx.services.billing.subscription(subscription.id))!;
    expect(suspended).toMatchObject({ status: 'SUSPENDED' });
    const since = suspended.inactive_since!;
    expect(await expireSubscriptions(ctx, { now: new Date(subscription.expires_at.getTime() - 1000) })).toMatchObject({ expired: 0 });
    const at = new Date(subscription.expires_at.getTime() + 1000);
    expect(await expireSubscriptions(ctx, { now: at })).toMatchObject({ expired: 1 });
    expect(await ctx.services.billing.subscription(subscription.id)).toMatchObject({ status: 'EXPIRED', inactive_since: since });
    const queued = await t.db.selectFrom('billing_role_changes').select(['op', 'reason']).where('subscription_id', '=', subscription.id).orderBy('id').execute();
    expect(queued.slice(-2)).toEqual([
      { op: 'remove', reason: `subscription ${subscription.id} suspended by staff` },
      { op: 'remove', reason: `subscription ${subscription.id} expired` },
    ]);
    // Final: staff cannot lift a suspension that has ended.
    await expect(ctx.services.billing.staff.setSuspended(staff, GUILD, subscription.id, false)).rejects.toThrow();
    expect(await expireSubscriptions(ctx, { now: at })).toMatchObject({ expired: 0 });
  });
});

describe('subscription-renewal', () => {
  it('renews from balance shortly before expiry, extending from the current expiry', async () => {
    const { user, subscription } = await subscribed(3n);
    const before = subscription.expires_at;
    // Outside the window: nothing.
    expect(await renewSubscriptions(ctx, { now: new Date(before.getTime() - (RENEW_AHEAD_HOURS + 1) * HOUR) })).toMatchObject({ renewed: 0 });
    const r = await renewSubscriptions(ctx, { now: new Date(before.getTime() - HOUR) });
    expect(r.renewed).toBeGreaterThanOrEqual(1);
    const after = (await ctx.services.billing.subscription(subscription.id))!;
    const expected = new Date(before);
    expected.setUTCMonth(expected.getUTCMonth() + 1);
    expect(after.expires_at.getTime()).toBe(expected.getTime());
    const invoices = await invoicesOf(user);
    expect(invoices.map((i) => [i.kind, i.status])).toEqual([
      ['new', 'PAID'],
      ['renewal', 'PAID'],
    ]);
    expect(await ctx.services.ledger.balance(user.discordId, 'SOL')).toBe(1n * SOL);
  });

  it('short of balance: one open renewal invoice, not one per run; paid by a later run after a top-up', async () => {
    const { user, subscription } = await subscribed(1n);
    const now = new Date(subscription.expires_at.getTime() - HOUR);
    await renewSubscriptions(ctx, { now });
    await renewSubscriptions(ctx, { now });
    let invoices = await invoicesOf(user);
    expect(invoices.map((i) => [i.kind, i.status])).toEqual([
      ['new', 'PAID'],
      ['renewal', 'CREATED'],
    ]);
    await f.balance(user, { amount: SOL });
    await renewSubscriptions(ctx, { now });
    invoices = await invoicesOf(user);
    expect(invoices.map((i) => i.status)).toEqual(['PAID', 'PAID']);
    expect((await ctx.services.billing.subscription(subscription.id))!.expires_at.getTime()).toBeGreaterThan(subscription.expires_at.getTime());
  });

  it('a member who canceled (auto-renew off) is not renewed', async () => {
    const { user, subscription } = await subscribed(3n);
    await t.db.updateTable('billing_subscriptions').set({ auto_renew: false, cancel_requested_at: sql`now()` }).where('id', '=', subscription.id).execute();
    await renewSubscriptions(ctx, { now: new Date(subscription.expires_at.getTime() - HOUR) });
    expect(await invoicesOf(user)).toHaveLength(1);
  });
});

describe('trials and renewal', () => {
  it('a trial starts with auto-renew off and is not charged when it ends; turned on by the member, it renews', async () => {
    const user = await f.user();
    await f.balance(user, { amount: 5n * SOL });
    const trial = await ctx.services.billing.startTrial({ guildId: GUILD, user: ref(user), plan: 'tryme' });
    expect(trial).toMatchObject({ trial: true, auto_renew: false, cancel_requested_at: null });
    const nearEnd = new Date(trial.expires_at.getTime() - HOUR);
    await renewSubscriptions(ctx, { now: nearEnd });
    expect(await invoicesOf(user)).toHaveLength(0);
    expect(await ctx.services.ledger.balance(user.discordId, 'SOL')).toBe(5n * SOL);

    await ctx.services.billing.setAutoRenew({ guildId: GUILD, discordId: user.discordId, plan: 'tryme', on: true });
    await renewSubscriptions(ctx, { now: nearEnd });
    expect((await invoicesOf(user)).map((i) => [i.kind, i.status])).toEqual([['renewal', 'PAID']]);
    expect(await ctx.services.ledger.balance(user.discordId, 'SOL')).toBe(4n * SOL);
  });
});

describe('invoice-expiry', () => {
  it('expires open invoices whose quote ran out and returns partial payments; paid ones stay paid', async () => {
    const user = await f.user();
    const checkout = await ctx.services.billing.subscribe({ interactionId: `jobs-${++seq}`, guildId: GUILD, user: ref(user), plan: 'pro', cycle: 'month' });
    await t.db.transaction().execute((trx) => ctx.services.billing.applyPayment(trx, checkout.invoice.id, { source: 'chain', amount: SOL / 4n, signature: `sig-jobs-${seq}`.padEnd(64, 'x') }));
    const { user: payer } = await subscribed();
    expect(await expireInvoices(ctx, { now: new Date(checkout.invoice.rate_locked_until.getTime() - 1000) })).toMatchObject({ expired: 0 });
    const r = await expireInvoices(ctx, { now: new Date(checkout.invoice.rate_locked_until.getTime() + 1000) });
    expect(r).toMatchObject({ expired: 1, returned: 1, failed: 0 });
    expect((await ctx.services.billing.invoice(checkout.invoice.id))?.status).toBe('EXPIRED');
    expect(await ctx.services.ledger.balance(user.discordId, 'SOL')).toBe(SOL / 4n);
    expect((await invoicesOf(payer)).map((i) => i.status)).toEqual(['PAID']);
  });
});

describe('role outbox without Discord', () => {
  it('applies nothing and leaves the rows due for a process that has Discord', async () => {
    const pending = await t.db.selectFrom('billing_role_changes').select('id').where('done_at', 'is', null).execute();
    expect(pending.length).toBeGreaterThan(0);
    expect(await drainRoleOutbox(ctx)).toEqual({ applied: 0, skipped: 0, retried: 0, failed: 0, rejoins: 0 });
    expect(await t.db.selectFrom('billing_role_changes').select('id').where('done_at', 'is', null).execute()).toHaveLength(pending.length);
  });
});

describe('schema guarantees the expiry batch relies on (migration 2026_11_28_210000)', () => {
  it('role changes must name an existing member and subscription; deletes cascade / clear them; ended periods stay ended', async () => {
    const user = await f.user();
    const plan = await t.db.selectFrom('billing_plans').select('id').where('guild_id', '=', GUILD).where('code', '=', 'pro').executeTakeFirstOrThrow();
    const change = (userId: bigint, subscriptionId: bigint | null) =>
      t.db.insertInto('billing_role_changes').values({ guild_id: GUILD, user_id: userId, role_id: ROLE, op: 'add', reason: 'test', subscription_id: subscriptionId }).returning('id').executeTakeFirstOrThrow();
    await expect(change(999_999_999n, null)).rejects.toMatchObject({ code: '23503', message: 'billing_role_changes: user 999999999 does not exist' });
    await expect(change(user.id, 999_999_999n)).rejects.toMatchObject({ code: '23503', message: 'billing_role_changes: subscription 999999999 does not exist' });
    const first = await change(user.id, null);
    await expect(t.db.updateTable('billing_role_changes').set({ user_id: 999_999_999n }).where('id', '=', first.id).execute()).rejects.toMatchObject({ code: '23503' });

    // No invoice points at this one, so it can be deleted: its role changes keep their history without it.
    const sub = await t.db
      .insertInto('billing_subscriptions')
      .values({ guild_id: GUILD, user_id: user.id, plan_id: plan.id, cycle: 'month', currency: 'SOL', expires_at: new Date(Date.now() + HOUR) } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    const linked = await change(user.id, sub.id);
    await t.db.deleteFrom('billing_subscriptions').where('id', '=', sub.id).execute();
    expect(await t.db.selectFrom('billing_role_changes').select('subscription_id').where('id', '=', linked.id).executeTakeFirstOrThrow()).toEqual({ subscription_id: null });

    await t.db.deleteFrom('users').where('id', '=', user.id).execute();
    expect(await t.db.selectFrom('billing_role_changes').select('id').where('user_id', '=', user.id).execute()).toEqual([]);

    const { subscription } = await subscribed();
    await expireSubscriptions(ctx, { now: new Date(subscription.expires_at.getTime() + 1000) });
    await expect(t.db.updateTable('billing_subscriptions').set({ expires_at: new Date(subscription.expires_at.getTime() + 30 * 24 * HOUR) }).where('id', '=', subscription.id).execute()).rejects.toThrow(
      `subscription ${subscription.id} has ended; it cannot be extended`,
    );
  });
});
