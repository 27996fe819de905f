import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { generateTreasury } from '../../chain/treasury';
import { startBotHarness, type BotHarness } from '../../discord/bot-harness';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { wirePaymentNotifiers } from '../deposits/discord-payment-notifier';

let t: TestDatabase;
let sol: SolanaEmulator;
let ctx: AppContext;
let bot: BotHarness;
const SOL = 1_000_000_000n;

beforeAll(async () => {
  [t, sol] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  const gen = generateTreasury();
  sol.fund(gen.treasury.publicKey, 10n * SOL);
  ctx = createTestContext(t, {
    SOLANA_RPC_URL: sol.rpcUrl,
    SOLANA_WS_URL: sol.wsUrl,
    TREASURY_SECRET_KEY: gen.secretJson,
    PUBLIC_URL: 'http://127.0.0.1:9/',
    WITHDRAW_COOLDOWN_SECONDS: '0',
    WITHDRAW_HOURLY_CAP: 'SOL:1',
  });
  bot = await startBotHarness({ ctx });
});
afterAll(async () => {
  await bot?.close();
  expect(sol?.failures).toEqual([]);
  await sol?.close();
  await t?.drop();
});
failOnEmulatorGaps(() => bot?.emu);

describe('hourly outflow cap → operators\' log channel', () => {
  it('a held payout posts one alert (no pings) in OPERATOR_LOG_CHANNEL_ID; the member sees it waiting, not failed', async () => {
    const opsLog = bot.emu.channel('ops-log');
    // What src/app.ts wires with config.OPERATOR_LOG_CHANNEL_ID once the client is up.
    wirePaymentNotifiers(ctx.services, bot.client, ctx.log, opsLog.id);
    const ops = bot.emu.user('ops', { admin: true });
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
  });
});
