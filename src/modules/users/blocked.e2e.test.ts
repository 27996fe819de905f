import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import type { OptionValue } from '../../emulators/discord/discord-emulator';
import type { EmuUser } from '../../emulators/discord/discord-state';
import { renderMessage } from '../../emulators/discord/render-message';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startPaymentsTestbed, type PaymentsTestbed } from '../../testing/payments-testbed';
import type { TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';
import { BLOCKED_MESSAGE } from './blocked';

let tb: PaymentsTestbed;
let t: TestDatabase;
let ctx: AppContext;
let bot: TestApp;
const SOL = 1_000_000_000n;

beforeAll(async () => {
  // The real app, every command and button: none of them may let a blocked member move money or identity.
  tb = await startPaymentsTestbed({ treasuryLamports: SOL, env: { WITHDRAW_COOLDOWN_SECONDS: '0' } });
  ({ t, ctx, bot } = tb);
});
afterAll(async () => {
  expect(tb?.sol.failures).toEqual([]);
  await tb?.close();
});
failOnEmulatorGaps(() => bot?.emu);

const count = async (table: 'journal' | 'withdrawals' | 'deposits' | 'airdrop_claims' | 'airdrops' | 'tips' | 'wallet_registrations') =>
  Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow()).n);
async function snapshot() {
  return {
    balances: await t.db.selectFrom('balances').select(['user_id', 'currency', 'amount']).orderBy('id').execute(),
    counts: await Promise.all((['journal', 'withdrawals', 'deposits', 'airdrop_claims', 'airdrops', 'tips', 'wallet_registrations'] as const).map(count)),
    nonces: await t.db.selectFrom('registration_nonces').select(['nonce', 'used_at', 'invalidated_at']).orderBy('id').execute(),
    confirmations: await t.db.selectFrom('tip_confirmations').select(['id', 'status']).orderBy('id').execute(),
  };
}

/** /wallet link with the address; returns the exact text to sign. */
async function linkText(user: EmuUser, address: string): Promise<string> {
  const reply = await bot.emu.runCommand(user, '/wallet link', { address }).reply();
  return /```\n([\s\S]*?)\n```/.exec(reply.content)![1]!;
}

describe('blocked members', () => {
  it('a blocked member is refused every money and identity command with a clear message, and nothing changes; tickets stay open; unblock restores', async () => {
    const ops = bot.emu.user('ops');
    await ctx.services.users.seedOperators([ops.id]);
    const mallory = bot.emu.user('mallory');
    const bob = bot.emu.user('bob');
    const carol = bot.emu.user('carol');
    for (const u of [mallory, bob]) await bot.emu.runCommand(ops, '/admin credit', { user: u, amount: '50' }).reply();

    // Set up before the block: a wallet link to verify later, a tip waiting for Confirm, an airdrop to claim, activity.
    const wallet = nacl.sign.keyPair();
    const address = bs58.encode(wallet.publicKey);
    const text = await linkText(mallory, address);
    const signature = bs58.encode(nacl.sign.detached(Buffer.from(text), wallet.secretKey));
    const prompt = await bot.emu.runCommand(mallory, '/tip', { user: bob, amount: '20' }).reply();
    const confirmId = /\[Confirm\]\((tip-confirm:\d+)\)/.exec(renderMessage(prompt))![1]!;
    const drop = await bot.emu.runCommand(bob, '/airdrop', { amount: '1', claims: 2, duration: '10m' }).reply();
    const claimId = /\((airdrop-claim:\d+)\)/.exec(renderMessage(drop))![1]!;
    await bot.emu.runCommand(carol, '/balance').reply();

    // Only operators block.
    const denied = await bot.emu.runCommand(bob, '/admin block', { user: mallory, reason: 'spam' }).reply();
    expect(denied.content).toBe('❌ This is for bot operators only.');
    const blocked = await bot.emu.runCommand(ops, '/admin block', { user: mallory, reason: 'chargeback fraud' }).reply();
    expect(blocked).toMatchObject({ ephemeral: true, content: `⛔ Blocked <@${mallory.id}>: they cannot move money or link a wallet until unblocked (tickets stay open to them).` });
    expect(await ctx.services.users.findByDiscordId(mallory.id)).toMatchObject({ is_blocked: true, blocked_reason: 'chargeback fraud' });

    const before = await snapshot();
    const refused = `❌ ${BLOCKED_MESSAGE}`;
    const attempts: Array<[string, () => Promise<{ content: string; ephemeral: boolean }>]> = [
      ['tip send', () => bot.emu.runCommand(mallory, '/tip', { user: bob, amount: '1' }).reply()],
      ['tip send, extra mentions', () => bot.emu.runCommand(mallory, '/tip', { user: bob, amount: '1', users: `<@${carol.id}>` }).reply()],
      ['tip confirm', () => bot.emu.click(mallory, prompt, confirmId).reply()],
      ['airdrop', () => bot.emu.runCommand(mallory, '/airdrop', { amount: '1', claims: 2, duration: '10m' }).reply()],
      ['airdrop claim', () => bot.emu.click(mallory, drop, claimId).reply()],
      ['rain', () => bot.emu.runCommand(mallory, '/rain', { amount: '1', count: 2 }).reply()],
      ['deposit', () => bot.emu.runCommand(mallory, '/deposit', { amount: '1' }).reply()],
      ['withdraw', () => bot.emu.runCommand(mallory, '/withdraw', { amount: '1' }).reply()],
      ['wallet link', () => bot.emu.runCommand(mallory, '/wallet link').reply()],
      ['wallet verify (link opened before the block)', () => bot.emu.runCommand(mallory, '/wallet verify', { address, signature }).reply()],
    ];
    for (const [what, attempt] of attempts) {
      const reply = await attempt();
      expect({ what, content: reply.content, ephemeral: reply.ephemeral }).toEqual({ what, content: refused, ephemeral: true });
    }
    // Receiving is refused too, naming the blocked member.
    const receiving: Record<string, OptionValue>[] = [{ user: mallory, amount: '1' }, { user: carol, amount: '1', users: `<@${mallory.id}>` }];
    for (const options of receiving) {
      const reply = await bot.emu.runCommand(bob, '/tip', options).reply();
      expect(reply.content).toBe('❌ "mallory" cannot receive money: their account is blocked.');
    }
    expect(await snapshot()).toEqual(before);

    // Tickets stay open to them: talking to staff is how a block gets resolved.
    const shown = bot.emu.runCommand(mallory, '/ticket open', { category: 'general' });
    const modal = await shown.modal();
    const opened = await bot.emu.submitModal(mallory, shown, modal.custom_id, { subject: 'Why am I blocked?', description: 'Please explain.' }).reply();
    expect(opened.content).toMatch(/^🎫 Ticket \*\*#\d+\*\* opened/);

    // Unblocked, the same member moves money again (and the confirmation made before the block still works).
    const unblocked = await bot.emu.runCommand(ops, '/admin unblock', { user: mallory }).reply();
    expect(unblocked.content).toBe(`✅ Unblocked <@${mallory.id}>.`);
    expect((await bot.emu.runCommand(mallory, '/tip', { user: bob, amount: '1' }).reply()).content).toBe(`<@${mallory.id}> 💸 tipped <@${bob.id}> 1 SOL`);
    expect((await bot.emu.click(mallory, prompt, confirmId).reply()).content).not.toMatch(/^❌/);
    expect(await ctx.services.ledger.balance(mallory.id, 'SOL')).toBe(29n * SOL);
  });
});
