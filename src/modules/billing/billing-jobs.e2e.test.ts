import { PermissionFlagsBits } from 'discord-api-types/v10';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { startDiscordEmulator, type DiscordEmulator, type EmuChannel, type EmuRole, type EmuUser } from '../../emulators/discord';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { Factory } from '../../testing/factories';
import { startTestApp, type TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';
import { expireInvoices, expireSubscriptions, remindSubscriptions } from './billing-jobs';
import type { Subscription } from './billing.service';

// The membership lifecycle through the real app and the Discord emulator: plan → subscribe → pay from balance → role
// granted → time advanced (the jobs run with a later `now`) → reminder DMs 3 days and 1 day before, once each →
// expiry → role revoked; drift repaired by role-sync; a member who rejoins gets the role back; a role above the
// bot's highest role is refused by Discord and the guild's log channel is told how to fix it.

const DAY = 86_400_000;

let emu: DiscordEmulator;
let bot: TestApp;
let ctx: AppContext;
let t: TestDatabase;
let f: Factory;
let vip: EmuRole;
let logChannel: EmuChannel;
let seq = 0;

beforeAll(async () => {
  emu = await startDiscordEmulator({ guildName: 'Members Club' });
  vip = emu.role('VIP');
  logChannel = emu.channel('bot-log');
  bot = await startTestApp({ emu });
  ({ ctx, t } = bot);
  f = new Factory(t.db);
  const owner = emu.user('owner', { admin: true });
  await ctx.services.guilds.update(emu.guild.id, { logChannelId: logChannel.id }, { discordId: owner.id, via: 'discord' });
  const created = await emu.runCommand(owner, '/plan create', { code: 'vip', name: 'VIP', role: vip, price: '1', cycle: 'month' }).reply();
  expect(created.content).toBe(`✅ Plan **VIP** (\`vip\`) created; it grants <@&${vip.id}>.`);
});
afterAll(async () => {
  await bot?.close();
  await emu?.close();
});
failOnEmulatorGaps(() => emu);

/** A member with `sol` in their balance who subscribes to VIP for a month and pays from balance. */
async function member(name: string, sol = 2n): Promise<{ user: EmuUser; subscription: Subscription }> {
  const user = emu.user(name);
  await f.balance(await f.user({ discordId: user.id, username: name }), { amount: sol * 1_000_000_000n });
  const ref = { discordId: user.id, username: name };
  const checkout = await ctx.services.billing.subscribe({ interactionId: `e2e-${++seq}`, guildId: emu.guild.id, user: ref, plan: 'vip', cycle: 'month' });
  const paid = await ctx.services.billing.payFromBalance(checkout.invoice.id, ref);
  expect(paid.invoice.status).toBe('PAID');
  return { user, subscription: paid.subscription! };
}

const drain = () => bot.app.jobs.runNow('billing-role-changes');
const dmsTo = (user: EmuUser) => emu.channelMessages(user).map((m) => m.content);

/** Runs the drain until `check` holds: gateway events (a rejoin) reach the client asynchronously. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await drain();
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

describe('membership lifecycle', () => {
  it('/subscribe + Pay from balance grants the role; reminders 3 days and 1 day before, once each; expiry revokes it', async () => {
    const alice = emu.user('alice');
    await f.balance(await f.user({ discordId: alice.id, username: 'alice' }), { amount: 2_000_000_000n });
    const invoiceMsg = await emu.runCommand(alice, '/subscribe', { plan: 'vip' }).reply();
    const invoice = (await ctx.services.billing.memberInvoices(alice.id))[0]!;
    expect(emu.hasRole(alice, vip)).toBe(false);
    await emu.click(alice, invoiceMsg, `billing-pay:${invoice.id}`).reply();
    await expect.poll(() => emu.hasRole(alice, vip)).toBe(true);
    const subscription = (await ctx.services.billing.subscription((await ctx.services.billing.invoice(invoice.id))!.subscription_id!))!;
    expect(subscription.status).toBe('ACTIVE');

    const expires = subscription.expires_at.getTime();
    // Five days out: nothing to say yet.
    expect(await remindSubscriptions(ctx, { now: new Date(expires - 5 * DAY) })).toMatchObject({ sent3d: 0, sent1d: 0 });
    // Three days out, twice at once (two replicas): one DM.
    const at3d = new Date(expires - 3 * DAY + 3_600_000);
    const runs = await Promise.all([remindSubscriptions(ctx, { now: at3d }), remindSubscriptions(ctx, { now: at3d })]);
    expect(runs[0]!.sent3d + runs[1]!.sent3d).toBe(1);
    expect(dmsTo(alice)).toEqual([expect.stringMatching(/^⏳ Your \*\*VIP\*\* membership ends <t:\d+:R>/)]);
    expect(await remindSubscriptions(ctx, { now: new Date(expires - 2 * DAY) })).toMatchObject({ sent3d: 0, sent1d: 0 });
    // One day out: the second reminder, once.
    expect(await remindSubscriptions(ctx, { now: new Date(expires - DAY + 3_600_000) })).toMatchObject({ sent3d: 0, sent1d: 1 });
    expect(await remindSubscriptions(ctx, { now: new Date(expires - 3_600_000) })).toMatchObject({ sent3d: 0, sent1d: 0 });
    expect(dmsTo(alice)).toHaveLength(2);
    // DMs never ping.
    const dmPosts = emu.requests.filter((r) => r.method === 'POST' && r.path.includes(`/channels/${emu.channelMessages(alice)[0]!.channel_id}/messages`));
    expect(dmPosts.map((r) => (r.body as { allowed_mentions?: unknown }).allowed_mentions)).toEqual([{ parse: [] }, { parse: [] }]);

    // Before expiry the job leaves it alone; after, it ends it and the drain takes the role back.
    expect(await expireSubscriptions(ctx, { now: new Date(expires - 1000) })).toMatchObject({ expired: 0 });
    expect(await expireSubscriptions(ctx, { now: new Date(expires + 60_000) })).toMatchObject({ expired: 1 });
    const ended = await ctx.services.billing.subscription(subscription.id);
    expect(ended).toMatchObject({ status: 'EXPIRED', inactive_since: new Date(expires + 60_000) });
    expect(await drain()).toMatchObject({ status: 'ok', result: { applied: 1 } });
    expect(emu.hasRole(alice, vip)).toBe(false);
    expect(emu.roleChanges.filter((c) => c.userId === alice.id).map((c) => c.action)).toEqual(['add', 'remove']);
  });

  it('an invoice that expires unpaid is DM\'d to the member once, without pings', async () => {
    const gina = emu.user('gina');
    const ref = { discordId: gina.id, username: 'gina' };
    const checkout = await ctx.services.billing.subscribe({ interactionId: `e2e-${++seq}`, guildId: emu.guild.id, user: ref, plan: 'vip', cycle: 'month' });
    const now = new Date(checkout.invoice.rate_locked_until.getTime() + 1000);
    // Two runs at once (a second replica), then a rerun: one DM.
    const runs = await Promise.all([expireInvoices(ctx, { now }), expireInvoices(ctx, { now })]);
    expect(runs[0]!.expired + runs[1]!.expired).toBe(1);
    expect(await expireInvoices(ctx, { now })).toMatchObject({ expired: 0 });
    expect((await ctx.services.billing.invoice(checkout.invoice.id))?.status).toBe('EXPIRED');
    expect(dmsTo(gina)).toEqual([`⌛ Invoice ${checkout.invoice.number} for **VIP** expired unpaid: its quoted amount ran out. Run \`/subscribe plan:vip\` for a new one.`]);
    const dmPosts = emu.requests.filter((r) => r.method === 'POST' && r.path.includes(`/channels/${emu.channelMessages(gina)[0]!.channel_id}/messages`));
    expect(dmPosts.map((r) => (r.body as { allowed_mentions?: unknown }).allowed_mentions)).toEqual([{ parse: [] }]);
  });

  it('role-sync restores a role removed by hand and takes back one given without a subscription', async () => {
    const { user: bob } = await member('bob');
    await drain();
    expect(emu.hasRole(bob, vip)).toBe(true);
    // A moderator removes bob's role; someone hands carol the role without paying.
    emu.guild.members.get(bob.id)!.roleIds.delete(vip.id);
    const carol = emu.user('carol', { roles: [vip] });
    expect(await bot.app.jobs.runNow('role-sync')).toMatchObject({ status: 'ok', result: { grants: 1, revokes: 1, drain: { applied: 2 } } });
    expect(emu.hasRole(bob, vip)).toBe(true);
    expect(emu.hasRole(carol, vip)).toBe(false);
    // In step: a second run finds nothing to repair.
    expect(await bot.app.jobs.runNow('role-sync')).toMatchObject({ status: 'ok', result: { grants: 0, revokes: 0 } });
  });

  it('a member who leaves and rejoins gets the role back', async () => {
    const { user: erin } = await member('erin');
    await drain();
    emu.removeMember(erin);
    emu.user('erin');
    expect(emu.hasRole(erin, vip)).toBe(false);
    await eventually(() => emu.hasRole(erin, vip), 'erin re-granted VIP after rejoining');
    const rows = await t.db.selectFrom('billing_role_changes').select(['op', 'reason', 'done_at', 'failed_at']).where('guild_id', '=', emu.guild.id).orderBy('id', 'desc').limit(1).execute();
    expect(rows[0]).toMatchObject({ op: 'add', reason: expect.stringContaining('member rejoined'), failed_at: null });
  });

  it('a role above the bot is refused: the change fails for good and the log channel is told the fix, once', async () => {
    emu.setBotPermissions(PermissionFlagsBits.Administrator, { position: 0 });
    try {
      const { user: dave } = await member('dave');
      const { user: frank } = await member('frank');
      expect(await drain()).toMatchObject({ status: 'ok', result: { applied: 0, failed: 2, retried: 0 } });
      expect(emu.hasRole(dave, vip) || emu.hasRole(frank, vip)).toBe(false);
      const alerts = emu.channelMessages(logChannel).map((m) => m.content);
      expect(alerts).toEqual([`⚠️ Memberships: I cannot give members <@&${vip.id}>: it sits at or above my highest role. Fix: Server Settings → Roles, drag my role above <@&${vip.id}>. Once fixed, the membership role sync (every 15 minutes) repairs every member.`]);
      const failed = await t.db.selectFrom('billing_role_changes').select(['last_error']).where('failed_at', 'is not', null).execute();
      expect(failed).toHaveLength(2);
      expect(failed[0]!.last_error).toContain('50013');
    } finally {
      emu.setBotPermissions(PermissionFlagsBits.Administrator, { position: 1_000 });
    }
    // Fixed: the reconcile grants what failed.
    expect(await bot.app.jobs.runNow('role-sync')).toMatchObject({ status: 'ok', result: { grants: 2, drain: { applied: 2 } } });
    expect(emu.hasRole(emu.user('dave'), vip) && emu.hasRole(emu.user('frank'), vip)).toBe(true);
  });
});
