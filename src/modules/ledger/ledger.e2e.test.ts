import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { renderMessage } from '../../emulators/discord/render-message';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';

let t: TestDatabase;
let ctx: AppContext;
let bot: TestApp;
const SOL = 1_000_000_000n;

beforeAll(async () => {
  bot = await startTestApp({ env: { TIP_CONFIRM_ABOVE: 'SOL:10,USDC:1000' } });
  ({ ctx, t } = bot);
});
afterAll(async () => {
  await bot?.close();
});
failOnEmulatorGaps(() => bot?.emu);

const balanceOf = (discordId: string, currency = 'SOL') => ctx.services.ledger.balance(discordId, currency);
const counts = async () => ({
  journal: (await t.db.selectFrom('journal').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow()).n,
  balances: await t.db.selectFrom('balances').select(['user_id', 'currency', 'amount']).orderBy('id').execute(),
});

describe('ledger commands through the Discord emulator', () => {
  it('/admin credit needs the operator role (Manage Server is not enough) and funds the member', async () => {
    const alice = bot.emu.user('alice');
    const denied = await bot.emu.runCommand(alice, '/admin credit', { user: alice, amount: '100' }).reply();
    expect(denied.content).toBe('❌ This is for bot operators only.');
    const owner = bot.emu.user('server-owner', { admin: true });
    expect((await bot.emu.runCommand(owner, '/admin credit', { user: owner, amount: '100' }).reply()).content).toBe('❌ This is for bot operators only.');
    const ops = bot.emu.user('ops');
    await ctx.services.users.seedOperators([ops.id]);
    const r = await bot.emu.runCommand(ops, '/admin credit', { user: alice, amount: '20', reason: 'sandbox' }).reply();
    expect(r.ephemeral).toBe(true);
    expect(r.content).toBe(`✅ Credited <@${alice.id}> 20 SOL — their balance is now 20 SOL.`);
    expect(await balanceOf(alice.id)).toBe(20n * SOL);
  });

  it('/tip moves funds publicly, /balance shows them privately, bad input changes nothing', async () => {
    const alice = bot.emu.user('alice');
    const bob = bot.emu.user('bob');
    const carol = bot.emu.user('carol');
    const tip = await bot.emu.runCommand(alice, '/tip', { user: bob, amount: '1.5', note: 'for the help' }).reply();
    expect(tip.ephemeral).toBe(false);
    expect(tip.content).toBe(`<@${alice.id}> 💸 tipped <@${bob.id}> 1.5 SOL — “for the help”`);

    const split = await bot.emu.runCommand(alice, '/tip', { user: bob, users: `<@${carol.id}>`, amount: '1' }).reply();
    expect(split.content).toBe(`<@${alice.id}> 💸 tipped <@${bob.id}>, <@${carol.id}> 0.5 SOL each (1 SOL total)`);

    const balance = await bot.emu.runCommand(bob, '/balance').reply();
    expect(balance.ephemeral).toBe(true);
    expect(renderMessage(balance)).toContain('**2 SOL**');
    expect(renderMessage(balance)).toContain('**0 USDC**');
    expect(await balanceOf(alice.id)).toBe(17_500_000_000n);

    const before = await counts();
    const bad = [
      [{ user: bob, amount: '1e-9' }, /exponent notation/],
      [{ user: bob, amount: '0.0000000001' }, /SOL has at most 9 decimals/],
      [{ user: alice, amount: '1' }, /You cannot tip yourself/],
      [{ user: bob, amount: '5', currency: 'DOGE' }, /Unknown currency "DOGE"/],
      [{ user: bob, amount: '1', currency: 'USDC' }, /Insufficient funds: this needs 1 USDC but you have 0 USDC/],
      [{ user: bob, amount: '1', users: 'everyone' }, /Mention the members to tip/],
    ] as const;
    for (const [options, message] of bad) {
      const reply = await bot.emu.runCommand(alice, '/tip', options).reply();
      expect(reply.ephemeral).toBe(true);
      expect(reply.content).toMatch(message);
    }
    const botReply = await bot.emu.runCommand(alice, '/tip', { user: bot.client.user!.id, amount: '1' }).reply();
    expect(botReply.content).toMatch(/bots cannot receive tips/);
    expect(await counts()).toEqual(before);
  });

  it('a tip above the threshold runs only on Confirm, once', async () => {
    const alice = bot.emu.user('alice');
    const dave = bot.emu.user('dave');
    const aliceBefore = await balanceOf(alice.id);
    const prompt = await bot.emu.runCommand(alice, '/tip', { user: dave, amount: '12' }).reply();
    expect(prompt.ephemeral).toBe(true);
    expect(prompt.content).toContain('You are about to send **12 SOL**');
    expect(await balanceOf(dave.id)).toBe(0n);
    const confirmId = /\[Confirm\]\((tip-confirm:\d+)\)/.exec(renderMessage(prompt))![1]!;
    const confirmed = bot.emu.click(alice, prompt, confirmId);
    expect((await confirmed.reply()).content).toBe(`✅ Sent. Your balance: ${Number(aliceBefore - 12n * SOL) / 1e9} SOL.`);
    const announcement = await confirmed.followUp(0);
    expect(announcement.content).toBe(`<@${alice.id}> 💸 tipped <@${dave.id}> 12 SOL`);
    expect(prompt.components).toEqual([]);
    expect(await balanceOf(dave.id)).toBe(12n * SOL);

    const setting = await bot.emu.runCommand(dave, '/tip-confirm-above', { amount: '0.5' }).reply();
    expect(setting.content).toBe('✅ You will be asked to confirm SOL tips above 0.5 SOL.');
    expect(setting.ephemeral).toBe(true);
    const broke = await bot.emu.runCommand(alice, '/tip', { user: dave, amount: '11' }).reply();
    expect(broke.content).toBe('❌ Insufficient funds: this needs 11 SOL but you have 5.5 SOL.');
    const ref = { discordId: alice.id, username: 'alice' };
    await ctx.services.ledger.adminCredit({ idempotencyKey: 'e2e-topup', user: ref, amount: '10', actor: ref });
    const other = await bot.emu.runCommand(alice, '/tip', { user: dave, amount: '11' }).reply();
    const cancelId = /\[Cancel\]\((tip-cancel:\d+)\)/.exec(renderMessage(other))![1]!;
    expect((await bot.emu.click(alice, other, cancelId).reply()).content).toBe('Tip canceled — nothing was sent.');
    expect(await balanceOf(dave.id)).toBe(12n * SOL);
  });

  it('an identical /tip within a minute of an applied one asks first (stating when), Confirm sends it once, Cancel sends nothing, others are refused', async () => {
    const rita = bot.emu.user('rita');
    const sam = bot.emu.user('sam');
    const tess = bot.emu.user('tess');
    const ref = { discordId: rita.id, username: 'rita' };
    await ctx.services.ledger.adminCredit({ idempotencyKey: 'e2e-repeat', user: ref, amount: '10', actor: ref });

    const first = await bot.emu.runCommand(rita, '/tip', { user: sam, amount: '1' }).reply();
    expect(first.content).toBe(`<@${rita.id}> 💸 tipped <@${sam.id}> 1 SOL`);
    const earlier = await t.db
      .selectFrom('journal')
      .innerJoin('users', 'users.id', 'journal.from_user_id')
      .select('journal.created_at')
      .where('users.discord_id', '=', rita.id)
      .where('journal.type', '=', 'tip')
      .orderBy('journal.id', 'desc')
      .executeTakeFirstOrThrow();
    const at = Math.floor(earlier.created_at.getTime() / 1000);

    // The same again (a member retrying a tip whose answer never came): a private question, nothing moved.
    const before = await counts();
    const prompt = await bot.emu.runCommand(rita, '/tip', { user: sam, amount: '1' }).reply();
    expect(prompt.ephemeral).toBe(true);
    expect(prompt.content).toBe(
      `⚠️ You already sent the same tip (**1 SOL** to <@${sam.id}>) at <t:${at}:T> (<t:${at}:R>). Send it again? Confirm within 5 minutes, or Cancel to send nothing.`,
    );
    expect(await counts()).toEqual(before);
    const confirmId = /\[Confirm\]\((tip-confirm:\d+)\)/.exec(renderMessage(prompt))![1]!;

    // Someone else pressing it (custom ids are not secret), or a made-up confirmation id: refused, nothing moves.
    const stranger = await bot.emu.forgeClick(sam, prompt, confirmId).reply();
    expect(stranger.content).toMatch(/Only the sender can confirm this tip/);
    const forged = await bot.emu.forgeClick(rita, prompt, 'tip-confirm:999999999').reply();
    expect(forged.content).toMatch(/This tip confirmation no longer exists/);
    const garbage = await bot.emu.forgeClick(rita, prompt, 'tip-confirm:1;drop').reply();
    expect(garbage.content).toMatch(/This tip confirmation no longer exists/);
    expect(await counts()).toEqual(before);

    // Confirm sends it, once, however often it is pressed.
    const confirmed = bot.emu.click(rita, prompt, confirmId);
    expect((await confirmed.reply()).content).toBe('✅ Sent. Your balance: 8 SOL.');
    expect((await confirmed.followUp(0)).content).toBe(`<@${rita.id}> 💸 tipped <@${sam.id}> 1 SOL`);
    const again = await bot.emu.forgeClick(rita, prompt, confirmId).reply();
    expect(again.content).toBe('✅ Sent. Your balance: 8 SOL.');
    expect(await balanceOf(sam.id)).toBe(2n * SOL);
    expect(await balanceOf(rita.id)).toBe(8n * SOL);

    // Cancel on a repeat (of a split tip this time) changes nothing.
    await bot.emu.runCommand(rita, '/tip', { user: sam, users: `<@${tess.id}>`, amount: '2' }).reply();
    const split = await counts();
    const repeat = await bot.emu.runCommand(rita, '/tip', { user: tess, users: `<@${sam.id}>`, amount: '2' }).reply();
    expect(repeat.content).toMatch(/^⚠️ You already sent the same tip \(\*\*2 SOL\*\* to <@\d+>, <@\d+>\)/);
    const cancelId = /\[Cancel\]\((tip-cancel:\d+)\)/.exec(renderMessage(repeat))![1]!;
    expect((await bot.emu.forgeClick(sam, repeat, cancelId).reply()).content).toMatch(/Only the sender can cancel this tip/);
    expect((await bot.emu.click(rita, repeat, cancelId).reply()).content).toBe('Tip canceled — nothing was sent.');
    expect(await counts()).toEqual(split);
    expect(await balanceOf(rita.id)).toBe(6n * SOL);

    // Not identical (another amount, another receiver): sent at once.
    expect((await bot.emu.runCommand(rita, '/tip', { user: sam, amount: '0.5' }).reply()).content).toBe(`<@${rita.id}> 💸 tipped <@${sam.id}> 0.5 SOL`);
    expect((await bot.emu.runCommand(rita, '/tip', { user: tess, amount: '1' }).reply()).content).toBe(`<@${rita.id}> 💸 tipped <@${tess.id}> 1 SOL`);
    expect(await balanceOf(rita.id)).toBe(45n * SOL / 10n);
  });

  it('/history pages with Prev/Next buttons', async () => {

    const erin = bot.emu.user('erin');
    for (let i = 1; i <= 12; i++) {
      await ctx.services.ledger.adminCredit({ idempotencyKey: `e2e-hist-${i}`, user: { discordId: erin.id, username: 'erin' }, amount: String(i), actor: { discordId: erin.id, username: 'erin' } });
    }
    const page1 = await bot.emu.runCommand(erin, '/history').reply();
    expect(page1.ephemeral).toBe(true);
    let text = renderMessage(page1);
    expect(text).toContain('Page 1/2 · 12 entries');
    expect(text).toContain('Credit **+12 SOL**');
    expect(text).toContain('[◀ Prev](ledger-history:0) (disabled)');
    // Next carries a keyset cursor: older than the last entry shown.
    const next = /\[Next ▶\]\((ledger-history:2:b\d+)\)/.exec(text)![1]!;
    await bot.emu.click(erin, page1, next).reply();
    text = renderMessage(page1);
    expect(text).toContain('Page 2/2 · 12 entries');
    expect(text).toContain('Credit **+1 SOL**');
    expect(text).not.toContain('Credit **+12 SOL**');
    expect(text).toContain('[Next ▶](ledger-history:3) (disabled)');
    const prev = /\[◀ Prev\]\((ledger-history:1:a\d+)\)/.exec(text)![1]!;
    await bot.emu.click(erin, page1, prev).reply();
    expect(renderMessage(page1)).toContain('Page 1/2');
  });

  it('/airdrop escrows and pays one claim per member via the Claim button', async () => {
    const alice = bot.emu.user('alice');
    const [frank, gina, hank] = ['frank', 'gina', 'hank'].map((n) => bot.emu.user(n));
    const aliceBefore = await balanceOf(alice.id);
    const message = await bot.emu.runCommand(alice, '/airdrop', { amount: '1', claims: 2, duration: '10m' }).reply();
    expect(message.ephemeral).toBe(false);
    expect(renderMessage(message)).toContain('Claim **0.5 SOL** — 0/2 claimed.');
    expect(await balanceOf(alice.id)).toBe(aliceBefore - SOL);
    // The bot stores the posted message id right after replying.
    await expect
      .poll(async () => (await t.db.selectFrom('airdrops').select('message_id').orderBy('id', 'desc').executeTakeFirstOrThrow()).message_id)
      .toBe(message.id);

    const claimId = /\[Claim 0\.5 SOL\]\((airdrop-claim:\d+)\)/.exec(renderMessage(message))![1]!;
    const claim = bot.emu.click(frank!, message, claimId);
    expect((await claim.followUp(0)).content).toBe('🪂 You claimed 0.5 SOL!');
    expect(renderMessage(message)).toContain('1/2 claimed');
    const again = await bot.emu.click(frank!, message, claimId).reply();
    expect(again.content).toBe('❌ You already claimed this airdrop.');
    expect(again.ephemeral).toBe(true);
    const own = await bot.emu.click(alice, message, claimId).reply();
    expect(own.content).toBe('❌ You cannot claim your own airdrop.');
    await bot.emu.click(gina!, message, claimId).followUp(0);
    expect(renderMessage(message)).toContain('2/2 claimed. All claims taken.');
    expect(renderMessage(message)).toContain('(disabled)');
    expect(() => bot.emu.click(hank!, message, claimId)).toThrow(/disabled/);
    expect(await balanceOf(frank!.id)).toBe(SOL / 2n);
    expect(await balanceOf(gina!.id)).toBe(SOL / 2n);
  });

  it('a click on an expired airdrop disables its button; the expiry job refunds the creator', async () => {
    const alice = bot.emu.user('alice');
    const jo = bot.emu.user('jo');
    const before = await balanceOf(alice.id);
    const message = await bot.emu.runCommand(alice, '/airdrop', { amount: '0.2', claims: 2, duration: '1m' }).reply();
    await expect
      .poll(async () => (await t.db.selectFrom('airdrops').select('id').where('message_id', '=', message.id).executeTakeFirst())?.id)
      .toBeDefined();
    await t.db.updateTable('airdrops').set({ expires_at: new Date(Date.now() - 1000) }).where('message_id', '=', message.id).execute();
    const claimId = /\[Claim 0\.1 SOL\]\((airdrop-claim:\d+)\)/.exec(renderMessage(message))![1]!;
    const click = bot.emu.click(jo, message, claimId);
    const error = await click.followUp(0);
    expect(error.content).toBe('❌ This airdrop has expired.');
    expect(error.ephemeral).toBe(true);
    expect(renderMessage(message)).toContain('Expired — the rest went back to the creator.');
    expect(renderMessage(message)).toContain('(disabled)');
    expect(await balanceOf(alice.id)).toBe(before - SOL / 5n);
    expect(await ctx.services.ledger.expireAirdrops()).toHaveLength(1);
    expect(await balanceOf(alice.id)).toBe(before);
  });

  it('the expiry job ends the airdrop message nobody clicked: claim count, disabled button, refund journalled', async () => {
    const alice = bot.emu.user('alice');
    const [kim, lou] = [bot.emu.user('kim'), bot.emu.user('lou')];
    const before = await balanceOf(alice.id);
    const message = await bot.emu.runCommand(alice, '/airdrop', { amount: '0.3', claims: 3, duration: '10m' }).reply();
    const stored = () => t.db.selectFrom('airdrops').select('id').where('message_id', '=', message.id).executeTakeFirst();
    await expect.poll(async () => (await stored())?.id).toBeDefined();
    const id = (await stored())!.id;
    const claimId = `airdrop-claim:${id}`;
    await bot.emu.click(kim, message, claimId).followUp(0);
    expect(renderMessage(message)).toContain('1/3 claimed. Ends');

    await t.db.updateTable('airdrops').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', id).execute();
    expect(await bot.app.jobs.runNow('airdrop-expiry')).toMatchObject({ status: 'ok', result: { expired: 1, notUpdated: 0 } });
    const text = renderMessage(message);
    expect(text).toContain('Claim **0.1 SOL** — 1/3 claimed. Expired — the rest went back to the creator.');
    expect(text).toContain(`[Claim 0.1 SOL](${claimId}) (disabled)`);
    expect(() => bot.emu.click(lou, message, claimId)).toThrow(/disabled/);
    expect(await balanceOf(alice.id)).toBe(before - SOL / 10n);
    const aliceId = (await t.db.selectFrom('users').select('id').where('discord_id', '=', alice.id).executeTakeFirstOrThrow()).id;
    const refund = await t.db.selectFrom('journal').select(['to_user_id', 'amount', 'currency']).where('type', '=', 'airdrop_refund').where('ref', '=', `airdrop:${id}`).execute();
    expect(refund).toEqual([{ to_user_id: aliceId, amount: SOL / 5n, currency: 'SOL' }]);
  });

  it('/rain splits among recently active members; /leaderboard ranks tippers', async () => {
    const alice = bot.emu.user('alice');
    const ivan = bot.emu.user('ivan');
    await bot.emu.runCommand(ivan, '/balance').reply();
    const rain = await bot.emu.runCommand(alice, '/rain', { amount: '0.3', count: 1 }).reply();
    // ivan was the most recently active member besides alice.
    expect(rain.content).toBe(`<@${alice.id}> 🌧️ made it rain on <@${ivan.id}> 0.3 SOL`);
    // A tip sent in DMs counts bot-wide only.
    const dmTip = await bot.emu.runCommand(alice, '/tip', { user: ivan, amount: '0.7' }, { dm: true }).reply();
    expect(dmTip.content).toBe(`<@${alice.id}> 💸 tipped <@${ivan.id}> 0.7 SOL`);
    const board = await bot.emu.runCommand(ivan, '/leaderboard', { period: 'day' }).reply();
    expect(renderMessage(board)).toContain('Top tippers in this server · SOL · last 24 hours');
    expect(renderMessage(board)).toContain(`🥇 <@${alice.id}> — **14.8 SOL** in 5 tips`);
    const everywhere = await bot.emu.runCommand(ivan, '/leaderboard', { period: 'day' }, { dm: true }).reply();
    expect(renderMessage(everywhere)).toContain('Top tippers · SOL · last 24 hours');
    expect(renderMessage(everywhere)).toContain(`🥇 <@${alice.id}> — **15.5 SOL** in 6 tips`);
  });
});
