import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { badgeHolderBalance, readBadge } from '../../chain/badge-mint';
import { generateTreasury } from '../../chain/treasury';
import { startDiscordEmulator, type DiscordEmulator, type EmuUser } from '../../emulators/discord';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startPaymentsTestbed, type PaymentsTestbed } from '../../testing/payments-testbed';
import type { TestApp } from '../../testing/test-app';

// Through both emulators: the real app (startTestApp) with its discord.js client and web3.js Connection.

let tb: PaymentsTestbed;
let emu: DiscordEmulator;
let ctx: AppContext;
let bot: TestApp;
let opal: EmuUser;

beforeAll(async () => {
  emu = await startDiscordEmulator();
  // The operator exists before the configuration that names them, as in a deployment.
  opal = emu.user('opal');
  const issuer = generateTreasury();
  tb = await startPaymentsTestbed({
    emu,
    treasuryLamports: 10_000_000_000n,
    env: { BADGE_ISSUER_SECRET_KEY: issuer.secretJson, BADGE_MIN_TIER: 'none', PUBLIC_URL: 'http://127.0.0.1:3000', BOT_OPERATOR_IDS: opal.id },
  });
  tb.sol.fund(issuer.treasury.publicKey, 10_000_000_000n);
  ({ ctx, bot } = tb);
});

afterAll(async () => {
  await tb?.close();
  expect(tb?.sol.failures).toEqual([]);
  await emu?.close();
});

failOnEmulatorGaps(() => bot?.emu);

/** /wallet link + /wallet verify with a real Ed25519 signature over the exact text the bot gives. */
async function linkWallet(user: EmuUser) {
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
    // Manage Server (here: Administrator in this guild) is a guild power, not an operator's: refused the same way.
    const owner = await bot.emu.runCommand(bot.emu.user('server-owner', { admin: true }), '/badge revoke', { user: alice.id, reason: 'mine' }).reply();
    expect(owner.content).toMatch(/Only operators can revoke/);
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

    const op = opal;
    const done = await bot.emu.runCommand(op, '/badge revoke', { user: carol.id, reason: 'impersonation' }).reply();
    await expect.poll(() => done.content).toBe("Revoked carol's badge (burned, mint closed).");
    expect(await readBadge(ctx.services.chain.connection, mint)).toBeNull();
    const again = await bot.emu.runCommand(op, '/badge revoke', { user: carol.id, reason: 'again' }).reply();
    await expect.poll(() => again.content).toMatch(/already revoked/);

    // A privileged action: exactly one audit row, by the operator, committed with the revoke request.
    const audit = await bot.t.db.selectFrom('audit_events').selectAll().where('action', '=', 'badge.revoke').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_discord_id: op.id, via: 'discord', reason: 'impersonation', before: { status: 'active', holder: carol.id, mint } });
  });
});
