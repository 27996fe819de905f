import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import badgeCommand from '../../../commands/badges/badge';
import rateCommand from '../../../commands/badges/rate';
import walletCommand from '../../../commands/wallet/wallet';
import type { AppContext } from '../../app-context';
import { badgeHolderBalance, readBadge } from '../../chain/badge-mint';
import { generateTreasury } from '../../chain/treasury';
import { startBotHarness, type BotHarness } from '../../discord/bot-harness';
import { InteractionRegistry } from '../../discord/interaction-registry';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import unlinkComponent from '../wallets/wallet-unlink.component';
import termsComponent from './badge-terms.component';

// Through both emulators: the real discord.js client and the real web3.js Connection, the app's own commands.

let t: TestDatabase;
let sol: SolanaEmulator;
let ctx: AppContext;
let bot: BotHarness;

beforeAll(async () => {
  [t, sol] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  const { treasury, secretJson } = generateTreasury();
  sol.fund(treasury.publicKey, 10_000_000_000n);
  ctx = createTestContext(t, { SOLANA_RPC_URL: sol.rpcUrl, SOLANA_WS_URL: sol.wsUrl, BADGE_ISSUER_SECRET_KEY: secretJson, BADGE_MIN_TIER: 'none', PUBLIC_URL: 'http://127.0.0.1:3000' });
  const registry = new InteractionRegistry();
  registry.addCommand(walletCommand, 'wallet');
  registry.addCommand(badgeCommand, 'badges');
  registry.addCommand(rateCommand, 'badges');
  registry.registerComponent(unlinkComponent);
  registry.registerComponent(termsComponent);
  bot = await startBotHarness({ ctx, registry });
});

afterAll(async () => {
  await bot?.close();
  expect(sol?.failures).toEqual([]);
  await sol?.close();
  await t?.drop();
});

failOnEmulatorGaps(() => bot?.emu);

/** /wallet link + /wallet verify with a real Ed25519 signature over the exact text the bot gives. */
async function linkWallet(user: ReturnType<BotHarness['emu']['user']>) {
  const kp = nacl.sign.keyPair();
  const address = bs58.encode(kp.publicKey);
  const reply = await bot.emu.runCommand(user, '/wallet link', { address }).reply();
  const text = /```\n([\s\S]*?)\n```/.exec(reply.content)![1]!;
  const signature = bs58.encode(nacl.sign.detached(Buffer.from(text), kp.secretKey));
  expect((await bot.emu.runCommand(user, '/wallet verify', { address, signature }).reply()).content).toMatch(/is now linked/);
  return address;
}

describe('/badge through the Discord and Solana emulators', () => {
  it('terms → link → claim → on chain; show; unlink → revoked on chain', async () => {
    const alice = bot.emu.user('alice');
    const noWallet = await bot.emu.runCommand(alice, '/badge claim').reply();
    await expect.poll(() => noWallet.content).toMatch(/Accept the badge terms/);

    const terms = await bot.emu.runCommand(alice, '/badge terms').reply();
    expect(terms.ephemeral).toBe(true);
    expect(terms.content).toContain(`version ${ctx.config.BADGE_TERMS_VERSION}`);
    await bot.emu.click(alice, terms, `badge-terms:${ctx.config.BADGE_TERMS_VERSION}`).reply();
    await expect.poll(() => terms.content).toMatch(/You accepted these terms/);

    const stillNoWallet = await bot.emu.runCommand(alice, '/badge claim').reply();
    await expect.poll(() => stillNoWallet.content).toMatch(/Link a wallet first/);

    const address = await linkWallet(alice);
    const claimed = await bot.emu.runCommand(alice, '/badge claim').reply();
    await expect.poll(() => claimed.content).toBe(`🎖️ Your trust badge is minted to \`${address}\`.`);
    const badge = (await ctx.services.badges.show(alice.id))!;
    expect(claimed.embeds?.[0]?.fields).toEqual(expect.arrayContaining([{ name: 'Status', value: 'active', inline: true }]));

    const onChain = await readBadge(ctx.services.chain.connection, badge.mint!);
    expect(onChain).toMatchObject({ supply: 1n, mintAuthority: null, nonTransferable: true, permanentDelegate: ctx.services.badges.issuerAddress });
    expect(onChain!.fields).toMatchObject({ tier: badge.tier });

    const shown = await bot.emu.runCommand(bot.emu.user('bob'), '/badge show', { user: alice.id }).reply();
    expect(shown.embeds?.[0]?.title).toBe('Trust badge — alice');
    expect(JSON.stringify(shown.embeds?.[0]?.fields)).toContain(badge.mint!);

    const self = await bot.emu.runCommand(alice, '/rate', { user: alice.id, score: 5 }).reply();
    expect(self.content).toMatch(/cannot rate yourself/);
    const stranger = await bot.emu.runCommand(alice, '/rate', { user: bot.emu.user('bob').id, score: 3 }).reply();
    expect(stranger.content).toMatch(/only rate members you have dealt with/);

    // Not an operator: refused, nothing changes.
    const denied = await bot.emu.runCommand(bot.emu.user('bob'), '/badge revoke', { user: alice.id, reason: 'nope' }).reply();
    expect(denied.content).toMatch(/Only operators can revoke/);
    expect((await ctx.services.badges.show(alice.id))!.status).toBe('active');

    const ask = await bot.emu.runCommand(alice, '/wallet unlink').reply();
    await bot.emu.click(alice, ask, `wallet-unlink:${address}`).reply();
    await expect.poll(async () => (await ctx.services.badges.show(alice.id))!.status, { timeout: 10_000 }).toBe('revoked');
    expect(await readBadge(ctx.services.chain.connection, badge.mint!)).toBeNull();
    expect((await badgeHolderBalance(ctx.services.chain.connection, address, badge.mint!))?.amount ?? 0n).toBe(0n);
  });

  it('an operator revokes with /badge revoke: burned and the mint closed', async () => {
    const carol = bot.emu.user('carol');
    await ctx.services.badges.acceptTerms({ discordId: carol.id, username: 'carol' }, ctx.config.BADGE_TERMS_VERSION);
    await linkWallet(carol);
    const claimed = await bot.emu.runCommand(carol, '/badge claim').reply();
    await expect.poll(() => claimed.content).toMatch(/minted/);
    const mint = (await ctx.services.badges.show(carol.id))!.mint!;

    const op = bot.emu.user('opal', { admin: true });
    const done = await bot.emu.runCommand(op, '/badge revoke', { user: carol.id, reason: 'impersonation' }).reply();
    await expect.poll(() => done.content).toBe("Revoked carol's badge (burned, mint closed).");
    expect(await readBadge(ctx.services.chain.connection, mint)).toBeNull();
    const again = await bot.emu.runCommand(op, '/badge revoke', { user: carol.id, reason: 'again' }).reply();
    await expect.poll(() => again.content).toMatch(/already revoked/);
  });
});
