import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { parseDecimalAmount } from '../../chain/amounts';
import { parseTransferRequestUrl } from '../../chain/solana-pay';
import type { EmuUser } from '../../emulators/discord';
import { renderMessage } from '../../emulators/discord/render-message';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import type { SolanaEmulator } from '../../emulators/solana/solana-emulator';
import type { JobRunner } from '../../jobs/job-runner';
import { startPaymentsTestbed, type PaymentsTestbed } from '../../testing/payments-testbed';
import type { TestApp } from '../../testing/test-app';

let tb: PaymentsTestbed;
let sol: SolanaEmulator;
let ctx: AppContext;
let bot: TestApp;
let jobs: JobRunner;
let treasury: string;
const SOL = 1_000_000_000n;

beforeAll(async () => {
  tb = await startPaymentsTestbed({
    // The treasury's operating float (network fees, rent) on top of what members deposit.
    treasuryLamports: SOL,
    // Alice withdraws twice in a row; the cooldown has its own tests (withdrawals.service.test.ts).
    env: { WITHDRAW_COOLDOWN_SECONDS: '0' },
  });
  ({ sol, ctx, bot, treasury } = tb);
  // The real jobs, run on demand instead of on their schedule.
  jobs = bot.app.jobs;
});

afterAll(async () => {
  expect(sol?.failures).toEqual([]);
  await tb?.close();
});
failOnEmulatorGaps(() => bot?.emu);

const dms = (u: EmuUser) => bot.emu.channelMessages(u).map((m) => m.content);

/** /wallet link with the address, sign the exact text with the wallet's key, /wallet verify. */
async function linkWallet(user: EmuUser, wallet: { publicKey: { toBase58(): string }; secretKey: Uint8Array }) {
  const address = wallet.publicKey.toBase58();
  const reply = await bot.emu.runCommand(user, '/wallet link', { address }).reply();
  const text = /```\n([\s\S]*?)\n```/.exec(reply.content)![1]!;
  const signature = bs58.encode(nacl.sign.detached(Buffer.from(text), wallet.secretKey));
  const verified = await bot.emu.runCommand(user, '/wallet verify', { address, signature }).reply();
  expect(verified.content).toContain('is now linked');
}

describe('deposit → balance → withdraw through both emulators', () => {
  it('a member deposits with the Solana Pay link, sees the balance, withdraws to their wallet', async () => {
    const alice = bot.emu.user('alice');
    const wallet = sol.newWallet(5n * SOL);

    const reply = await bot.emu.runCommand(alice, '/deposit', { amount: '1.5' }).reply();
    expect(reply.ephemeral).toBe(true);
    expect(reply.files).toHaveLength(1);
    expect(reply.files[0]!.data.subarray(1, 4).toString()).toBe('PNG');
    const url = /`(solana:[^`]+)`/.exec(reply.content)![1]!;
    const req = parseTransferRequestUrl(url);
    expect(req).toMatchObject({ recipient: treasury, amount: '1.5', references: [expect.any(String)] });

    // Before paying: the watcher finds nothing and credits nothing.
    expect(await jobs.runNow('deposit-watch')).toMatchObject({ status: 'ok', result: { credited: 0 } });
    const signature = await sol.transferSol(wallet, req.recipient, parseDecimalAmount(req.amount!, 9), { reference: req.references });
    expect(await jobs.runNow('deposit-watch')).toMatchObject({ status: 'ok', result: { credited: 1 } });
    await expect.poll(() => dms(alice)).toEqual([expect.stringContaining(`Deposit #1 received: 1.5 SOL credited to your balance. Transaction \`${signature}\``)]);

    const balance = await bot.emu.runCommand(alice, '/balance').reply();
    expect(renderMessage(balance)).toContain('**1.5 SOL**');

    const noWallet = await bot.emu.runCommand(alice, '/withdraw', { amount: '1' }).reply();
    expect(noWallet.ephemeral).toBe(true);
    expect(noWallet.content).toBe('❌ Link a wallet first with `/wallet link` — withdrawals go to your verified wallet.');

    await linkWallet(alice, wallet);
    const before = sol.balance(wallet.publicKey);
    const out = await bot.emu.runCommand(alice, '/withdraw', { amount: '1' }).reply();
    expect(out.ephemeral).toBe(true);
    expect(out.content).toMatch(new RegExp(`^✅ Withdrawal #1 sent: 1 SOL to \`${wallet.publicKey.toBase58()}\`\\. Transaction \`\\w+\`\\.$`));
    expect(sol.balance(wallet.publicKey) - before).toBe(SOL);
    // Deposit credited, wallet linked (the production wallet notifier DMs that too), withdrawal sent.
    await expect.poll(() => dms(alice).length).toBe(3);
    expect(dms(alice)[1]).toMatch(new RegExp(`^✅ Wallet \`${wallet.publicKey.toBase58()}\` is now linked`));
    expect(dms(alice)[2]).toMatch(/^✅ Withdrawal #1 sent/);
    expect(await ctx.services.ledger.balance(alice.id, 'SOL')).toBe(500_000_000n);

    const tooMuch = await bot.emu.runCommand(alice, '/withdraw', { amount: '2' }).reply();
    expect(tooMuch.content).toBe('❌ Insufficient funds: this needs 2 SOL but you have 0.5 SOL.');
    const bad = await bot.emu.runCommand(alice, '/deposit', { amount: '1e9' }).reply();
    expect(bad.ephemeral).toBe(true);
    expect(bad.content).toMatch(/^❌ .*exponent notation/);
  });

  it('a large withdrawal waits for a moderator, who approves it with a button', async () => {
    const bob = bot.emu.user('bob');
    const mod = bot.emu.user('mod');
    await ctx.services.users.seedOperators([mod.id]);
    const wallet = sol.newWallet(0n);
    await ctx.services.ledger.adminCredit({ idempotencyKey: 'e2e-bob', user: { discordId: bob.id, username: 'bob' }, amount: '20', actor: { discordId: mod.id, username: 'mod' } });
    sol.fund(treasury, 20n * SOL);
    await linkWallet(bob, sol.newWallet(0n));
    // Re-link to the wallet the payout must reach (the latest verified wallet wins).
    await linkWallet(bob, wallet);

    const req = await bot.emu.runCommand(bob, '/withdraw', { amount: '12' }).reply();
    expect(req.content).toMatch(/^🕒 Withdrawal #\d+ of 12 SOL .* waiting for a moderator's approval/);
    const id = /#(\d+)/.exec(req.content)![1]!;
    expect(await ctx.services.ledger.balance(bob.id, 'SOL')).toBe(8n * SOL);

    const denied = await bot.emu.runCommand(bob, '/withdrawals review').reply();
    expect(denied.content).toBe('❌ This is for bot operators only.');
    const review = await bot.emu.runCommand(mod, '/withdrawals review').reply();
    expect(review.ephemeral).toBe(true);
    expect(review.content).toContain(`#${id} · <@${bob.id}> · **12 SOL**`);
    const approved = await bot.emu.click(mod, review, `withdraw-approve:${id}`).reply();
    expect(approved.content).toMatch(new RegExp(`^Approved by you\\. ✅ Withdrawal #${id} sent: 12 SOL`));
    expect(sol.balance(wallet.publicKey)).toBe(12n * SOL);
    await expect.poll(() => dms(bob).some((m) => m.startsWith(`✅ Withdrawal #${id} sent`))).toBe(true);

    const again = await bot.emu.click(mod, review, `withdraw-reject:${id}`).reply();
    expect(again.content).toBe(`❌ Withdrawal #${id} is already confirmed.`);
    // The default USDC mint does not exist on the emulator: that currency reports an error, SOL is still checked.
    expect(await jobs.runNow('solvency-check')).toMatchObject({
      status: 'ok',
      result: [expect.objectContaining({ currency: 'SOL', shortfall: '0' }), expect.objectContaining({ currency: 'USDC', error: expect.stringContaining('could not find mint') })],
    });
  });
});
