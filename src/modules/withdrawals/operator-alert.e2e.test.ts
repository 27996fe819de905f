import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { startDiscordEmulator, type DiscordEmulator, type EmuChannel, type EmuUser } from '../../emulators/discord';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startPaymentsTestbed, type PaymentsTestbed } from '../../testing/payments-testbed';
import type { TestApp } from '../../testing/test-app';

let emu: DiscordEmulator;
let tb: PaymentsTestbed;
let ctx: AppContext;
let bot: TestApp;
let opsLog: EmuChannel;
let ops: EmuUser;

beforeAll(async () => {
  // The channel and the operator exist before the configuration that names them, as in a deployment.
  emu = await startDiscordEmulator();
  opsLog = emu.channel('ops-log');
  ops = emu.user('ops');
  tb = await startPaymentsTestbed({
    emu,
    treasuryLamports: 10n * 1_000_000_000n,
    env: { WITHDRAW_COOLDOWN_SECONDS: '0', WITHDRAW_HOURLY_CAP: 'SOL:1', OPERATOR_LOG_CHANNEL_ID: opsLog.id, BOT_OPERATOR_IDS: ops.id },
  });
  ({ ctx, bot } = tb);
});
afterAll(async () => {
  expect(tb?.sol.failures).toEqual([]);
  await tb?.close();
  await emu?.close();
});
failOnEmulatorGaps(() => emu);

describe('hourly outflow cap → operators\' log channel', () => {
  it('a held payout posts one alert (no pings) in OPERATOR_LOG_CHANNEL_ID; the member sees it waiting, not failed', async () => {
    const vera = bot.emu.user('vera');
    await bot.emu.runCommand(ops, '/admin credit', { user: vera, amount: '3' }).reply();
    const wallet = nacl.sign.keyPair();
    const address = bs58.encode(wallet.publicKey);
    const link = await ctx.services.wallets.createLink({ discordId: vera.id, username: vera.username, publicUrl: 'http://127.0.0.1:9/', address });
    const signature = bs58.encode(nacl.sign.detached(Buffer.from(link.message), wallet.secretKey));
    await ctx.services.wallets.verify({ discordId: vera.id, address, signature, nonce: link.nonce });

    const first = await bot.emu.runCommand(vera, '/withdraw', { amount: '0.8' }).reply();
    expect(first.content).toMatch(/^✅ Withdrawal #1 sent/);
    const second = await bot.emu.runCommand(vera, '/withdraw', { amount: '0.8' }).reply();
    expect(second.content).toMatch(/^⏳ Withdrawal #2 of 0\.8 SOL .* is on its way\. You'll get a DM when it confirms\.$/);
    await ctx.services.withdrawals.processPending();

    await expect.poll(() => bot.emu.channelMessages(opsLog).length).toBe(1);
    const [alert] = bot.emu.channelMessages(opsLog);
    expect(alert!.content).toBe(
      '🚨 SOL payouts paused: 0.8 SOL went out in the last hour (cap 1 SOL). Withdrawal #2 (0.8 SOL) and later ones wait until the hour drains; nothing fails.',
    );
    const posted = bot.emu.requests.find((r) => r.method === 'POST' && r.path === `/api/v10/channels/${opsLog.id}/messages`);
    expect(posted?.body).toMatchObject({ allowed_mentions: { parse: [] } });
    expect(await ctx.services.withdrawals.get(2n)).toMatchObject({ status: 'approved', signature: null });
    // The pause is audited once, by the system, in the transaction that held the payout.
    const audit = await tb.t.db.selectFrom('audit_events').selectAll().where('action', '=', 'withdrawal.payouts_capped').execute();
    expect(audit).toEqual([
      expect.objectContaining({ via: 'system', actor_discord_id: null, target: 'currency:SOL', after: { releasedLastHour: '800000000', cap: '1000000000', withdrawalId: '2' } }),
    ]);
    // Held again on the next run: the same episode, no second alert or audit row.
    await ctx.services.withdrawals.processPending();
    expect(bot.emu.channelMessages(opsLog)).toHaveLength(1);
    expect(await tb.t.db.selectFrom('audit_events').select('id').where('action', '=', 'withdrawal.payouts_capped').execute()).toHaveLength(1);
  });
});
