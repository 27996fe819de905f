import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { startDiscordEmulator, type DiscordEmulator, type EmuRole, type EmuUser } from '../../emulators/discord';
import type { EmuGuild } from '../../emulators/discord/discord-state';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../../testing/test-app';

// Memberships through the real app and the Discord emulator: staff create a plan, a member subscribes, pays from
// balance with the button, and the role shows up on the emulated member; refunds take it away again.

const TOKEN = 'admin-token-for-billing-tests-0001';
const SOL = 1_000_000_000n;
let emu: DiscordEmulator;
let bot: TestApp;
let ctx: AppContext;
let vip: EmuRole;
let owner: EmuUser;
let operator: EmuUser;
let guildB: EmuGuild;
let ownerB: EmuUser;

beforeAll(async () => {
  emu = await startDiscordEmulator({ guildName: 'Members Guild' });
  vip = emu.role('VIP');
  owner = emu.user('owner');
  operator = emu.user('operator');
  guildB = emu.addGuild('Other Guild');
  emu.inGuild(guildB, () => {
    ownerB = emu.user('owner-b', { admin: true });
  });
  bot = await startTestApp({ emu, env: { ADMIN_TOKEN: TOKEN, BOT_OPERATOR_IDS: operator.id, PUBLIC_URL: 'http://127.0.0.1:3999' } });
  ctx = bot.ctx;
});

afterAll(async () => {
  await bot?.close();
  await emu?.close();
});

failOnEmulatorGaps(() => emu);

const auth = { authorization: `Bearer ${TOKEN}` };
const credit = (u: EmuUser, amount: string) => ctx.services.ledger.adminCredit({ idempotencyKey: `billing-e2e-${u.id}-${amount}`, user: { discordId: u.id, username: u.username }, amount, actor: { discordId: operator.id, username: 'operator' } });

describe('/plan → /subscribe → Pay from balance → role', () => {
  it('grants the role through the outbox, and a refund takes it away', async () => {
    const created = await emu.runCommand(owner, '/plan create', { code: 'vip', name: 'VIP Club', role: vip, price: '1', cycle: 'month' }).reply();
    expect(created.content).toBe(`✅ Plan **VIP Club** (\`vip\`) created; it grants <@&${vip.id}>.`);
    const yearly = await emu.runCommand(owner, '/plan edit', { plan: 'vip', price: '10', cycle: 'year', discount: 10 }).reply();
    expect(yearly.content).toBe('✅ Plan **VIP Club** (`vip`) updated.');

    const alice = emu.user('alice');
    const plans = await emu.runCommand(alice, '/plans').reply();
    expect(JSON.stringify(plans.embeds)).toContain('VIP Club');
    expect(JSON.stringify(plans.embeds)).toContain('**9 SOL** (−10 %, was 10 SOL)');

    await credit(alice, '5');
    const invoiceMsg = await emu.runCommand(alice, '/subscribe', { plan: 'vip' }).reply();
    expect(invoiceMsg.ephemeral).toBe(true);
    expect(invoiceMsg.content).toMatch(/^🧾 \*\*Invoice INV-\d{4}-000001\*\* — VIP Club, one month/);
    expect(invoiceMsg.content).toContain('Amount: **1 SOL**');
    const invoice = (await ctx.services.billing.memberInvoices(alice.id))[0]!;
    const buttons = (invoiceMsg.components?.[0] as { components: unknown[] }).components as Array<{ custom_id?: string; url?: string; label: string }>;
    expect(buttons.map((b) => b.label)).toEqual(['Pay from balance', 'Pay with wallet']);
    expect(buttons[1]!.url).toBe(`http://127.0.0.1:3999/pay/${invoice.reference}`);

    expect(emu.hasRole(alice, vip)).toBe(false);
    await emu.click(alice, invoiceMsg, `billing-pay:${invoice.id}`).reply();
    await expect.poll(() => invoiceMsg.content).toMatch(/^✅ Invoice INV-\d{4}-000001 paid \(1 SOL\)\. You have \*\*VIP Club\*\*/);
    await expect.poll(() => emu.hasRole(alice, vip)).toBe(true);
    expect(await ctx.services.ledger.balance(alice.id, 'SOL')).toBe(4n * SOL);
    expect((await ctx.services.billing.staff.revenue(emu.guild.id)).get('SOL')).toBe(SOL);

    // A forged second press on the paid invoice: nothing moves.
    const again = await emu.forgeClick(alice, invoiceMsg, `billing-pay:${invoice.id}`).reply();
    expect(again.content).toMatch(/paid/);
    expect(await ctx.services.ledger.balance(alice.id, 'SOL')).toBe(4n * SOL);

    const status = await emu.runCommand(alice, '/subscription status').reply();
    expect(status.content).toMatch(/\*\*VIP Club\*\* \(`vip`\): renews <t:\d+:D>/);
    const canceled = await emu.runCommand(alice, '/subscription cancel').reply();
    expect(canceled.content).toMatch(/will not renew; you keep it until/);
    expect(emu.hasRole(alice, vip)).toBe(true);
    expect((await emu.runCommand(alice, '/subscription resume').reply()).content).toMatch(/renews on/);

    const receipt = await emu.runCommand(alice, '/invoice show', { id: String(invoice.id) }).reply();
    expect(receipt.attachments?.[0]?.filename).toMatch(/^INV-\d{4}-000001\.md$/);

    const revenue = await emu.runCommand(owner, '/billing revenue').reply();
    expect(revenue.content).toContain('• 1 SOL');

    // Guild B's owner has Manage Server there only: guild A's plans and invoices are not theirs.
    const foreign = await emu.inGuild(guildB, () => emu.runCommand(ownerB, '/plan archive', { plan: 'vip' })).reply();
    expect(foreign.content).toBe('❌ This server has no plan "vip". See /plans.');
    const realOwnerB = emu.findUser(guildB.ownerId)!;
    const foreignRefund = await emu.inGuild(guildB, () => emu.runCommand(realOwnerB, '/billing refund', { invoice: String(invoice.id), reason: 'mine' })).reply();
    expect(foreignRefund.content).toBe(`❌ There is no invoice #${invoice.id} on this server.`);
    // A Manage Server member who is not the owner cannot refund in their own guild either.
    const manager = emu.user('manager', { admin: true });
    expect((await emu.runCommand(manager, '/billing refund', { invoice: String(invoice.id), reason: 'x' }).reply()).content).toBe(
      "❌ Only this server's owner or a bot operator can refund.",
    );
    expect((await ctx.services.billing.invoice(invoice.id))?.status).toBe('PAID');

    const refunded = await emu.runCommand(owner, '/billing refund', { invoice: String(invoice.id), reason: 'asked nicely' }).reply();
    expect(refunded.content).toMatch(/refunded to <@\d+>'s balance; the membership ended/);
    await expect.poll(() => emu.hasRole(alice, vip)).toBe(false);
    expect(await ctx.services.ledger.balance(alice.id, 'SOL')).toBe(5n * SOL);
    expect((await ctx.services.billing.staff.revenue(emu.guild.id)).get('SOL')).toBe(0n);
  });

  it('bad input answers with a clear ephemeral error and changes nothing', async () => {
    const bob = emu.user('bob');
    await credit(bob, '0.5');
    const unknown = await emu.runCommand(bob, '/subscribe', { plan: 'gold' }).reply();
    expect(unknown.content).toBe('❌ This server has no plan "gold". See /plans.');
    expect(unknown.ephemeral).toBe(true);

    const members = emu.role('Members');
    await emu.runCommand(owner, '/plan create', { code: 'club', name: 'Club', role: members, price: '1', invite_only: true, trial_days: 3 }).reply();
    expect((await emu.runCommand(bob, '/subscribe', { plan: 'club' }).reply()).content).toBe("❌ Club is invite-only: ask the server's staff for an invite.");
    expect((await emu.runCommand(bob, '/invite', { user: bob, plan: 'club' }).reply()).content).toBe("❌ This needs Manage Server or this server's staff role.");
    const invited = await emu.runCommand(owner, '/invite', { user: bob, plan: 'club' }).reply();
    expect(invited.content).toMatch(/is invited to `club` until/);

    const trial = await emu.runCommand(bob, '/subscribe', { plan: 'club', trial: true }).reply();
    expect(trial.content).toMatch(/^🎁 Your free trial runs until/);
    await expect.poll(() => emu.hasRole(bob, members)).toBe(true);
    // Ended early by staff over HTTP, then a second trial is refused.
    const sub = (await ctx.services.billing.memberSubscriptions(emu.guild.id, bob.id))[0]!;
    const cancel = await bot.app.http.inject({ method: 'POST', url: `/admin/subscriptions/${sub.id}/cancel`, headers: auth, payload: { reason: 'test' } });
    expect(cancel.statusCode).toBe(200);
    expect((await emu.runCommand(bob, '/subscribe', { plan: 'club', trial: true }).reply()).content).toBe('❌ You have already had a free trial on this server.');

    const poor = await emu.runCommand(owner, '/invite', { user: bob, plan: 'club' }).reply();
    expect(poor.content).toMatch(/invited/);
    const invoiceMsg = await emu.runCommand(bob, '/subscribe', { plan: 'club' }).reply();
    const invoice = (await ctx.services.billing.memberInvoices(bob.id))[0]!;
    const pay = await emu.click(bob, invoiceMsg, `billing-pay:${invoice.id}`).reply();
    await expect.poll(() => pay.content).toBe(`❌ Insufficient funds: invoice ${invoice.number} needs 1 SOL but you have 0.5 SOL.`);
    expect(await ctx.services.ledger.balance(bob.id, 'SOL')).toBe(SOL / 2n);

    await emu.runCommand(owner, '/plan archive', { plan: 'club' }).reply();
    expect((await emu.runCommand(bob, '/subscribe', { plan: 'club' }).reply()).content).toBe('❌ Plan "Club" is no longer sold.');
    expect((await ctx.services.billing.invoice(invoice.id))?.status).toBe('CREATED');
  });
});

describe('/admin billing routes', () => {
  it('plans, coupons, invoices, subscriptions and revenue are listed and documented', async () => {
    const list = await bot.app.http.inject({ method: 'GET', url: `/admin/plans?guildId=${emu.guild.id}&includeArchived=true`, headers: auth });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ items: Array<{ code: string }> }>().items.map((p) => p.code).sort()).toEqual(['club', 'vip']);
    const coupon = await bot.app.http.inject({
      method: 'POST',
      url: '/admin/coupons',
      headers: auth,
      payload: { guildId: emu.guild.id, code: 'HALF', plan: 'vip', maxRedemptions: 1, discounts: [{ cycle: null, percentOff: 50 }] },
    });
    expect(coupon.statusCode).toBe(200);
    expect(coupon.json()).toMatchObject({ code: 'HALF', maxRedemptions: 1, redemptions: 0, discounts: [{ cycle: null, percentOff: 50 }] });
    const invoices = await bot.app.http.inject({ method: 'GET', url: `/admin/invoices?guildId=${emu.guild.id}&status=REFUNDED`, headers: auth });
    expect(invoices.json<{ items: Array<{ status: string }> }>().items.map((i) => i.status)).toEqual(['REFUNDED']);
    const refundAgain = await bot.app.http.inject({ method: 'POST', url: `/admin/invoices/${invoices.json<{ items: Array<{ id: string }> }>().items[0]!.id}/refund`, headers: auth, payload: { reason: 'twice' } });
    expect(refundAgain.statusCode).toBe(409);
    expect(refundAgain.json()).toMatchObject({ error: 'invoice_not_paid' });
    const revenue = await bot.app.http.inject({ method: 'GET', url: `/admin/revenue?guildId=${emu.guild.id}`, headers: auth });
    expect(revenue.json()).toEqual({ items: [{ currency: 'SOL', amount: '0' }] });
    const openapi = (await bot.app.http.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    for (const path of ['/admin/plans', '/admin/coupons', '/admin/invites', '/admin/invoices/{id}/refund', '/admin/subscriptions/{id}/suspend', '/admin/revenue']) {
      expect(Object.keys(openapi.paths)).toContain(path);
    }
  });
});
