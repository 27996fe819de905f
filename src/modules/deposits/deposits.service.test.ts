import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDecimalAmount } from '../../chain/amounts';
import { parseTransferRequestUrl } from '../../chain/solana-pay';
import { generateTreasury } from '../../chain/treasury';
import type { AppContext } from '../../app-context';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { UserError } from '../../errors';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { Currencies } from '../ledger/currencies';
import { LATE_DEPOSIT_WINDOW_MINUTES, type DepositCreditedEvent, type DepositIntent } from './deposits.service';
import { depositCreditedText } from './deposits.views';

let t: TestDatabase;
let emu: SolanaEmulator;
let ctx: AppContext;
let usdc: string;
let treasury: string;
const notified: DepositCreditedEvent[] = [];
const SOL = 1_000_000_000n;

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  usdc = (await emu.createMint(6)).toBase58();
  const gen = generateTreasury();
  treasury = gen.treasury.publicKey;
  ctx = createTestContext(t, {
    SOLANA_RPC_URL: emu.rpcUrl,
    SOLANA_WS_URL: emu.wsUrl,
    TREASURY_SECRET_KEY: gen.secretJson,
    LEDGER_TOKENS: `USDC:${usdc}:6`,
  }, { deposits: async (e) => void notified.push(e) });
});

afterAll(async () => {
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await t?.drop();
});

let seq = 0;
const user = (name: string) => ({ discordId: `9000000000000000${String(++seq).padStart(2, '0')}`, username: name });

/** Pays a Solana Pay URL the way a wallet does (reference as a read-only key), optionally a different amount. */
async function pay(url: string, opts: { amount?: bigint; mint?: string | null } = {}) {
  const req = parseTransferRequestUrl(url);
  const wallet = emu.newWallet();
  const mint = opts.mint === undefined ? req.splToken : (opts.mint ?? undefined);
  if (!mint) {
    const amount = opts.amount ?? parseDecimalAmount(req.amount!, 9);
    return emu.transferSol(wallet, req.recipient, amount, { reference: req.references });
  }
  const amount = opts.amount ?? parseDecimalAmount(req.amount!, 6);
  await emu.mintTo(mint, wallet.publicKey, amount);
  return emu.transferToken(wallet, mint, req.recipient, amount, { reference: req.references });
}

const deposit = (id: bigint) => t.db.selectFrom('deposits').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const expire = (id: bigint) => t.db.updateTable('deposits').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', id).execute();
const journalFor = (signature: string) =>
  t.db.selectFrom('journal').selectAll().where('idempotency_key', '=', `deposit:${signature}`).execute();

let interaction = 0;
const create = (u: ReturnType<typeof user>, amount: string, currency?: string): Promise<DepositIntent> =>
  ctx.services.deposits.create({ interactionId: `i-${++interaction}`, user: u, amount, ...(currency ? { currency } : {}) });

describe('deposit intents', () => {
  it('gives a Solana Pay URL to the treasury with a fresh reference, idempotent per interaction', async () => {
    const alice = user('alice');
    const a = await ctx.services.deposits.create({ interactionId: 'dep-1', user: alice, amount: '1.5' });
    const b = await ctx.services.deposits.create({ interactionId: 'dep-1', user: alice, amount: '1.5' });
    const c = await create(alice, '2.25', 'usdc');
    expect(a.replayed).toBe(false);
    expect(b).toMatchObject({ replayed: true, url: a.url });
    const parsed = parseTransferRequestUrl(a.url);
    expect(parsed).toMatchObject({ recipient: treasury, amount: '1.5', references: [a.deposit.reference] });
    expect(parsed.splToken).toBeUndefined();
    expect(parseTransferRequestUrl(c.url)).toMatchObject({ recipient: treasury, amount: '2.25', splToken: usdc });
    expect(c.deposit.reference).not.toBe(a.deposit.reference);
    expect(a.deposit).toMatchObject({ status: 'pending', expected_amount: 1_500_000_000n, currency: 'SOL' });
    expect(a.deposit.expires_at.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    const png = await ctx.services.deposits.qr(a);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('rejects bad input with specific errors and writes nothing', async () => {
    const bob = user('bob');
    const before = await t.db.selectFrom('deposits').select('id').execute();
    await expect(create(bob, '0')).rejects.toThrow(/greater than zero/);
    await expect(create(bob, '1e3')).rejects.toThrow(/exponent notation/);
    await expect(create(bob, '1', 'DOGE')).rejects.toThrow(/Unknown currency "DOGE"/);
    await expect(create(bob, '0.0000001', 'USDC')).rejects.toThrow(/USDC has at most 6 decimals/);
    await expect(ctx.services.deposits.create({ interactionId: 'x', user: { ...bob, bot: true }, amount: '1' })).rejects.toThrow(UserError);
    for (let i = 0; i < 5; i++) await create(bob, '1');
    await expect(create(bob, '1')).rejects.toMatchObject({ code: 'TOO_MANY_DEPOSITS' });
    expect((await t.db.selectFrom('deposits').select('id').execute()).length).toBe(before.length + 5);
  });

  it('says deposits are off when no treasury key is configured', async () => {
    const off = createTestContext(t);
    await expect(off.services.deposits.create({ interactionId: 'off', user: user('x'), amount: '1' })).rejects.toMatchObject({ code: 'CHAIN_DISABLED' });
    expect(await off.services.deposits.watch()).toMatchObject({ checked: 0 });
  });
});

describe('deposit-watch', () => {
  it('credits an exact SOL payment once, journals it and notifies', async () => {
    const carol = user('carol');
    const intent = await create(carol, '1.5');
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 0, errors: 0 });
    const signature = await pay(intent.url);
    const first = await ctx.services.deposits.watch();
    expect(first).toMatchObject({ credited: 1, errors: 0 });
    const again = await ctx.services.deposits.watch();
    expect(again.credited).toBe(0);
    expect(await ctx.services.ledger.balance(carol.discordId, 'SOL')).toBe(1_500_000_000n);
    expect(await deposit(intent.deposit.id)).toMatchObject({ status: 'credited', signature, received_amount: 1_500_000_000n });
    const journal = await journalFor(signature);
    expect(journal).toHaveLength(1);
    expect(journal[0]).toMatchObject({ type: 'deposit', from_user_id: null, amount: 1_500_000_000n, currency: 'SOL', ref: `deposit:${intent.deposit.id}` });
    expect(notified.filter((n) => n.discordId === carol.discordId)).toEqual([
      expect.objectContaining({ depositId: intent.deposit.id, received: 1_500_000_000n, signature }),
    ]);
  });

  it('credits what was received for SPL over- and under-payment', async () => {
    const dave = user('dave');
    const over = await create(dave, '2', 'USDC');
    const under = await create(dave, '3', 'USDC');
    await pay(over.url, { amount: 2_500_000n });
    await pay(under.url, { amount: 1_000_000n });
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 2 });
    expect(await ctx.services.ledger.balance(dave.discordId, 'USDC')).toBe(3_500_000n);
    expect(await deposit(over.deposit.id)).toMatchObject({ status: 'credited', expected_amount: 2_000_000n, received_amount: 2_500_000n });
    expect(await deposit(under.deposit.id)).toMatchObject({ status: 'credited', expected_amount: 3_000_000n, received_amount: 1_000_000n });
    expect(emu.tokenBalance(treasury, usdc)).toBeGreaterThanOrEqual(3_500_000n);
  });

  it('a wrong-mint payment is recorded, not credited, and the intent closes as failed (not expired)', async () => {
    const erin = user('erin');
    const intent = await create(erin, '1');
    const sig = await pay(intent.url, { mint: usdc, amount: 1_000_000n });
    await ctx.services.deposits.watch();
    expect(await deposit(intent.deposit.id)).toMatchObject({ status: 'pending', failure_reason: expect.stringContaining(sig) });
    await expire(intent.deposit.id);
    expect(await ctx.services.deposits.watch()).toMatchObject({ failed: 1 });
    expect(await deposit(intent.deposit.id)).toMatchObject({ status: 'failed', signature: null });
    expect(await ctx.services.ledger.balance(erin.discordId, 'SOL')).toBe(0n);
    expect(await ctx.services.ledger.balance(erin.discordId, 'USDC')).toBe(0n);
  });

  it('closes an unpaid intent as expired, but a payment that landed before the last look still credits', async () => {
    const frank = user('frank');
    const unpaid = await create(frank, '1');
    const late = await create(frank, '0.25');
    await pay(late.url);
    await Promise.all([expire(unpaid.deposit.id), expire(late.deposit.id)]);
    expect(await ctx.services.deposits.watch()).toMatchObject({ expired: 1, credited: 1 });
    expect(await deposit(unpaid.deposit.id)).toMatchObject({ status: 'expired', failure_reason: null });
    expect(await deposit(late.deposit.id)).toMatchObject({ status: 'credited' });
    expect(await ctx.services.ledger.balance(frank.discordId, 'SOL')).toBe(250_000_000n);
  });

  it('a payment to a request that already closed is credited once within the late window, and the member is told it was late', async () => {
    const ivy = user('ivy');
    const unpaid = await create(ivy, '1');
    const wrong = await create(ivy, '1');
    await pay(wrong.url, { mint: usdc, amount: 1_000_000n });
    await Promise.all([expire(unpaid.deposit.id), expire(wrong.deposit.id)]);
    expect(await ctx.services.deposits.watch()).toMatchObject({ expired: 1, failed: 1, credited: 0 });
    expect(await deposit(unpaid.deposit.id)).toMatchObject({ status: 'expired' });
    expect(await deposit(wrong.deposit.id)).toMatchObject({ status: 'failed' });

    // Paid after the requests closed: 0.5 of the expired one's 1 SOL, and the failed one in full.
    const [s1, s2] = [await pay(unpaid.url, { amount: SOL / 2n }), await pay(wrong.url)];
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 2, late: 2 });
    expect(await deposit(unpaid.deposit.id)).toMatchObject({ status: 'credited', signature: s1, received_amount: SOL / 2n });
    expect(await deposit(wrong.deposit.id)).toMatchObject({ status: 'credited', signature: s2, received_amount: SOL });
    expect(await ctx.services.ledger.balance(ivy.discordId, 'SOL')).toBe(SOL + SOL / 2n);
    expect(await journalFor(s1)).toMatchObject([{ type: 'deposit', amount: SOL / 2n }]);
    expect(await journalFor(s2)).toMatchObject([{ type: 'deposit', amount: SOL }]);
    const told = notified.filter((e) => e.discordId === ivy.discordId);
    expect(told.map((e) => [e.depositId, e.late, e.signature])).toEqual(
      expect.arrayContaining([
        [unpaid.deposit.id, 'expired', s1],
        [wrong.deposit.id, 'failed', s2],
      ]),
    );
    expect(told).toHaveLength(2);
    const text = depositCreditedText(Currencies.fromConfig(ctx.config), told.find((e) => e.late === 'expired')!);
    expect(text).toMatch(/arrived after the request had expired; it was credited anyway: 0\.5 SOL/);

    // Watched again: credited once. A second payment to a credited request is no deposit of its own.
    await pay(unpaid.url);
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 0 });
    expect(await ctx.services.ledger.balance(ivy.discordId, 'SOL')).toBe(SOL + SOL / 2n);
    expect(notified.filter((e) => e.discordId === ivy.discordId)).toHaveLength(2);
  });

  it('a request closed longer ago than the late window is no longer watched', async () => {
    const jay = user('jay');
    const old = await create(jay, '1');
    await expire(old.deposit.id);
    expect(await ctx.services.deposits.watch()).toMatchObject({ expired: 1 });
    await t.db
      .updateTable('deposits')
      .set({ expires_at: new Date(Date.now() - (LATE_DEPOSIT_WINDOW_MINUTES + 1) * 60_000) })
      .where('id', '=', old.deposit.id)
      .execute();
    await pay(old.url);
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 0 });
    expect(await deposit(old.deposit.id)).toMatchObject({ status: 'expired', signature: null });
    expect(await ctx.services.ledger.balance(jay.discordId, 'SOL')).toBe(0n);
  });

  it('one transaction naming two references credits only one deposit', async () => {
    const gina = user('gina');
    const a = await create(gina, '1');
    const b = await create(gina, '1');
    const wallet = emu.newWallet();
    const sig = await emu.transferSol(wallet, treasury, SOL, { reference: [a.deposit.reference, b.deposit.reference] });
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 1 });
    expect(await ctx.services.ledger.balance(gina.discordId, 'SOL')).toBe(SOL);
    const rows = await Promise.all([deposit(a.deposit.id), deposit(b.deposit.id)]);
    expect(rows.map((r) => r.status).sort()).toEqual(['credited', 'pending']);
    expect(rows.find((r) => r.status === 'pending')!.failure_reason).toMatch(new RegExp(`${sig} already credited deposit`));
    expect(await journalFor(sig)).toHaveLength(1);
  });

  it('an RPC outage fails that check only; the next run credits', async () => {
    const hank = user('hank');
    const intent = await create(hank, '0.5');
    await pay(intent.url);
    emu.faults.failNextRpc('getSignaturesForAddress', 503);
    // Pending requests and those closed within the late window are watched.
    const watchedBefore = await t.db
      .selectFrom('deposits')
      .select('id')
      .where((eb) =>
        eb.or([eb('status', '=', 'pending'), eb.and([eb('status', 'in', ['expired', 'failed']), eb('expires_at', '>', new Date(Date.now() - LATE_DEPOSIT_WINDOW_MINUTES * 60_000))])]),
      )
      .execute();
    const outage = await ctx.services.deposits.watch();
    expect(outage.errors).toBe(1);
    expect(outage.checked).toBe(watchedBefore.length);
    expect(await ctx.services.ledger.balance(hank.discordId, 'SOL')).toBe(0n);
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 1, errors: 0 });
    expect(await ctx.services.ledger.balance(hank.discordId, 'SOL')).toBe(500_000_000n);
  });
});
