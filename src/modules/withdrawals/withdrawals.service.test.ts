import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainService } from '../../chain/chain.service';
import { newReference } from '../../chain/solana-pay';
import { sendRaw } from '../../chain/transfers';
import { generateTreasury } from '../../chain/treasury';
import { parseConfig, type Config } from '../../config';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { createLogger } from '../../logger';
import { createMetrics, type Metrics } from '../../metrics';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { Currencies } from '../ledger/currencies';
import { LedgerService, type DiscordUserRef } from '../ledger/ledger.service';
import { DepositsService } from '../deposits/deposits.service';
import { UsersService } from '../users/users.service';
import { WithdrawalsService, type PayoutsCappedEvent, type WithdrawalEvent, type WithdrawalLimits } from './withdrawals.service';

let t: TestDatabase;
let emu: SolanaEmulator;
let config: Config;
let ledger: LedgerService;
let usdc: string;
/** A token only the hourly-cap test pays out, so other tests' payouts do not count against its cap. */
let capt: string;
let treasury: string;
const wallets = new Map<string, string>();
const events: WithdrawalEvent[] = [];
const capEvents: PayoutsCappedEvent[] = [];
const SOL = 1_000_000_000n;
const log = createLogger('silent');

/** A service instance as a freshly started process would build it (own Connection, no memory of the last one). */
function freshService(maxAttempts = 2, limits?: WithdrawalLimits, metrics?: Metrics): WithdrawalsService {
  return new WithdrawalsService(
    t.db,
    new ChainService(config),
    Currencies.fromConfig(config),
    async (discordId) => wallets.get(discordId),
    {
      maxAttempts,
      notify: async (e) => {
        if (e.kind === 'payouts-capped') capEvents.push(e);
        else events.push(e);
      },
      ...(limits ? { limits } : {}),
      metrics,
    },
    log,
  );
}
let svc: WithdrawalsService;
let users: UsersService;

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  usdc = (await emu.createMint(6)).toBase58();
  capt = (await emu.createMint(6)).toBase58();
  const gen = generateTreasury();
  treasury = gen.treasury.publicKey;
  emu.fund(treasury, 1_000n * SOL);
  await emu.mintTo(usdc, treasury, 1_000_000_000n);
  await emu.mintTo(capt, treasury, 1_000_000_000n);
  config = parseConfig({
    LOG_LEVEL: 'silent',
    SOLANA_RPC_URL: emu.rpcUrl,
    SOLANA_WS_URL: emu.wsUrl,
    TREASURY_SECRET_KEY: gen.secretJson,
    LEDGER_TOKENS: `USDC:${usdc}:6,CAPT:${capt}:6`,
  });
  ledger = new LedgerService(t.db, config);
  svc = freshService();
  users = new UsersService(t.db);
});

afterAll(async () => {
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await t?.drop();
});

let seq = 0;
const admin = { discordId: '100000000000000001', username: 'ops' };
const moderator = { discordId: '100000000000000002', username: 'mod' };

/** A member with a linked wallet and a funded balance. */
async function member(name: string, amount = '10', currency = 'SOL'): Promise<DiscordUserRef & { wallet: string }> {
  const u = { discordId: `7${String(++seq).padStart(17, '0')}`, username: name };
  const wallet = newReference();
  wallets.set(u.discordId, wallet);
  await ledger.adminCredit({ idempotencyKey: `fund-${u.discordId}-${currency}`, user: u, amount, currency, actor: admin });
  return { ...u, wallet };
}

let interaction = 0;
const withdraw = (u: DiscordUserRef, amount: string, currency = 'SOL', s = svc) =>
  s.request({ interactionId: `w-${++interaction}`, user: u, amount, currency });

async function rpc<T>(method: string, params: unknown[]): Promise<T> {
  const res = await fetch(emu.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return ((await res.json()) as { result: T }).result;
}
/** Landed transactions that touched the destination: the payout count. */
const payoutsTo = async (address: string) => (await rpc<unknown[]>('getSignaturesForAddress', [address])).length;
const landed = async (signature: string) =>
  (await rpc<{ value: unknown[] }>('getSignatureStatuses', [[signature], { searchTransactionHistory: true }])).value[0] !== null;
const row = (id: bigint) => t.db.selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const journal = (key: string) => t.db.selectFrom('journal').selectAll().where('idempotency_key', '=', key).execute();

async function snapshot() {
  const [balances, journalRows, withdrawals] = await Promise.all([
    t.db.selectFrom('balances').select(['user_id', 'currency', 'amount']).orderBy('id').execute(),
    t.db.selectFrom('journal').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow(),
    t.db.selectFrom('withdrawals').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { balances, journal: journalRows.n, withdrawals: withdrawals.n };
}

describe('withdrawal requests', () => {
  it('debits into an approved withdrawal (journal withdraw:<id>), idempotent per interaction', async () => {
    const alice = await member('alice');
    const first = await svc.request({ interactionId: 'w-alice', user: alice, amount: '1.5' });
    const again = await svc.request({ interactionId: 'w-alice', user: alice, amount: '1.5' });
    expect(first.replayed).toBe(false);
    expect(again).toMatchObject({ replayed: true, withdrawal: { id: first.withdrawal.id } });
    expect(first.withdrawal).toMatchObject({ status: 'approved', amount: 1_500_000_000n, fee: 0n, destination: alice.wallet, signature: null });
    expect(await ledger.balance(alice.discordId, 'SOL')).toBe(8_500_000_000n);
    expect(await journal(`withdraw:${first.withdrawal.id}`)).toEqual([
      expect.objectContaining({ type: 'withdrawal', amount: 1_500_000_000n, to_user_id: null }),
    ]);
  });

  it('rejects bad requests with specific errors and changes nothing', async () => {
    const bob = await member('bob', '1');
    const nowallet = { discordId: '799999999999999999', username: 'nowallet' };
    await ledger.adminCredit({ idempotencyKey: 'fund-nowallet', user: nowallet, amount: '5', actor: admin });
    await svc.updateMethod('USDC', { enabled: false });
    const before = await snapshot();
    await expect(withdraw(bob, '0.0001')).rejects.toMatchObject({ code: 'AMOUNT_TOO_SMALL', message: 'The minimum withdrawal is 0.001 SOL.' });
    await expect(withdraw(bob, '101')).rejects.toMatchObject({ code: 'AMOUNT_TOO_LARGE', message: 'The maximum withdrawal is 100 SOL.' });
    await expect(withdraw(bob, '2')).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS', message: 'Insufficient funds: this needs 2 SOL but you have 1 SOL.' });
    await expect(withdraw(bob, '1', 'USDC')).rejects.toMatchObject({ code: 'WITHDRAW_DISABLED' });
    await expect(withdraw(nowallet, '1')).rejects.toMatchObject({ code: 'NO_WALLET' });
    await expect(withdraw(bob, '-1')).rejects.toMatchObject({ code: 'INVALID_AMOUNT' });
    await expect(withdraw(bob, '1', 'DOGE')).rejects.toMatchObject({ code: 'UNKNOWN_CURRENCY' });
    await svc.pause('SOL', 'test pause');
    await expect(withdraw(bob, '0.5')).rejects.toMatchObject({ code: 'WITHDRAW_PAUSED' });
    await svc.resume('SOL');
    await svc.updateMethod('USDC', { enabled: true });
    expect(await snapshot()).toEqual(before);
  });

  it('above the approval threshold waits for a moderator; owners cannot approve; reject refunds in full', async () => {
    const carol = await member('carol', '50');
    const big = await withdraw(carol, '20');
    const other = await withdraw(carol, '15');
    expect(big.withdrawal.status).toBe('requested');
    expect((await svc.advance(big.withdrawal.id)).status).toBe('requested');
    await svc.processPending();
    expect((await row(big.withdrawal.id)).status).toBe('requested');
    expect((await svc.awaitingReview()).map((w) => w.id)).toEqual([big.withdrawal.id, other.withdrawal.id]);
    await expect(svc.approve(big.withdrawal.id, carol)).rejects.toMatchObject({ code: 'OWN_WITHDRAWAL' });

    await svc.approve(big.withdrawal.id, moderator);
    await expect(svc.approve(big.withdrawal.id, moderator)).rejects.toMatchObject({ code: 'ALREADY_REVIEWED' });
    expect((await svc.advance(big.withdrawal.id)).status).toBe('confirmed');
    expect(emu.balance(carol.wallet)).toBe(20n * SOL);
    expect(await row(big.withdrawal.id)).toMatchObject({ approved_by: moderator.discordId });

    const rejected = await svc.reject(other.withdrawal.id, moderator, 'looks odd');
    expect(rejected).toMatchObject({ status: 'refunded', failure_reason: `rejected by ${moderator.discordId}: looks odd` });
    await expect(svc.reject(other.withdrawal.id, moderator)).rejects.toMatchObject({ code: 'ALREADY_REVIEWED' });
    expect(await ledger.balance(carol.discordId, 'SOL')).toBe(30n * SOL);
    expect(await journal(`withdraw_refund:${other.withdrawal.id}`)).toHaveLength(1);
    expect(events.filter((e) => e.discordId === carol.discordId).map((e) => e.kind)).toEqual(['confirmed', 'refunded']);
  });
});

describe('payout outbox: a restart in any state ends in exactly one payout or a refund', () => {
  it('straight through: SOL and SPL (recipient token account created)', async () => {
    const dave = await member('dave', '5');
    await ledger.adminCredit({ idempotencyKey: 'fund-dave-usdc', user: dave, amount: '100', currency: 'USDC', actor: admin });
    const sol = await withdraw(dave, '1');
    const tok = await withdraw(dave, '12.5', 'USDC');
    const [a, b] = [await svc.advance(sol.withdrawal.id), await svc.advance(tok.withdrawal.id)];
    expect(a).toMatchObject({ status: 'confirmed', attempts: 1 });
    expect(b).toMatchObject({ status: 'confirmed', attempts: 1 });
    expect(emu.balance(dave.wallet)).toBe(SOL);
    expect(emu.tokenBalance(dave.wallet, usdc)).toBe(12_500_000n);
    expect(await ledger.balance(dave.discordId, 'USDC')).toBe(87_500_000n);
  });

  it('crash after the debit, before signing: a fresh process pays once', async () => {
    const u = await member('erin');
    const { withdrawal } = await withdraw(u, '1');
    const after = await freshService().advance(withdrawal.id);
    expect(after).toMatchObject({ status: 'confirmed', attempts: 1 });
    expect(await payoutsTo(u.wallet)).toBe(1);
    expect(emu.balance(u.wallet)).toBe(SOL);
  });

  it('crash after the signed tx is committed, before sending: the same signature is sent', async () => {
    const u = await member('frank');
    const { withdrawal } = await withdraw(u, '1');
    const signed = await svc.sign(withdrawal.id);
    expect(signed.signature).toBeTruthy();
    expect(await landed(signed.signature!)).toBe(false);
    const after = await freshService().advance(withdrawal.id);
    expect(after).toMatchObject({ status: 'confirmed', signature: signed.signature, attempts: 1, previous_signatures: [] });
    expect(await payoutsTo(u.wallet)).toBe(1);
  });

  it('crash after the send landed, before recording it: no second payout', async () => {
    const u = await member('gina');
    const { withdrawal } = await withdraw(u, '1');
    const signed = await svc.sign(withdrawal.id);
    await sendRaw(new ChainService(config).connection, signed.serialized_tx!);
    expect((await row(withdrawal.id)).status).toBe('approved');
    const after = await freshService().advance(withdrawal.id);
    expect(after).toMatchObject({ status: 'confirmed', signature: signed.signature, attempts: 1 });
    expect(await payoutsTo(u.wallet)).toBe(1);
    expect(emu.balance(u.wallet)).toBe(SOL);
  });

  it('a dropped send is re-sent byte for byte while its blockhash lives', async () => {
    const u = await member('hank');
    const { withdrawal } = await withdraw(u, '1');
    emu.faults.dropNextSend();
    const waiting = await svc.advance(withdrawal.id);
    expect(waiting.status).toBe('sent');
    expect(await payoutsTo(u.wallet)).toBe(0);
    const after = await freshService().advance(withdrawal.id);
    expect(after).toMatchObject({ status: 'confirmed', signature: waiting.signature, attempts: 1 });
    expect(await payoutsTo(u.wallet)).toBe(1);
  });

  it('dropped and expired: rebuilt with a fresh blockhash (new signature committed first), paid once', async () => {
    const u = await member('ivy');
    const { withdrawal } = await withdraw(u, '1');
    emu.faults.dropNextSend();
    const dropped = await svc.advance(withdrawal.id);
    expect(dropped.status).toBe('sent');
    emu.expireBlockhashes();
    const after = await freshService().advance(withdrawal.id);
    expect(after).toMatchObject({ status: 'confirmed', attempts: 2, previous_signatures: [dropped.signature] });
    expect(after.signature).not.toBe(dropped.signature);
    expect(await landed(dropped.signature!)).toBe(false);
    expect(await payoutsTo(u.wallet)).toBe(1);
    expect(emu.balance(u.wallet)).toBe(SOL);
  });

  it('expired again after the last attempt: refunded, nothing paid', async () => {
    const u = await member('jack', '3');
    const { withdrawal } = await withdraw(u, '2');
    emu.faults.dropNextSend();
    await svc.advance(withdrawal.id);
    emu.expireBlockhashes();
    emu.faults.dropNextSend();
    const rebuilt = await freshService().advance(withdrawal.id);
    expect(rebuilt).toMatchObject({ status: 'sent', attempts: 2 });
    emu.expireBlockhashes();
    const after = await freshService().advance(withdrawal.id);
    expect(after).toMatchObject({ status: 'refunded', failure_reason: 'payout not confirmed after 2 attempts' });
    expect(await payoutsTo(u.wallet)).toBe(0);
    expect(await ledger.balance(u.discordId, 'SOL')).toBe(3n * SOL);
    expect(await journal(`withdraw_refund:${withdrawal.id}`)).toEqual([expect.objectContaining({ type: 'withdrawal_refund', amount: 2n * SOL })]);
    // A refunded withdrawal stays refunded.
    expect((await freshService().advance(withdrawal.id)).status).toBe('refunded');
    expect(await payoutsTo(u.wallet)).toBe(0);
  });

  it('a payout the treasury cannot cover is never forced through: it waits out its blockhash, then is refunded', async () => {
    const u = await member('nina', '1');
    await ledger.adminCredit({ idempotencyKey: 'fund-nina-usdc', user: u, amount: '5000', currency: 'USDC', actor: admin });
    await svc.updateMethod('USDC', { approvalThreshold: 10_000n * 1_000_000n });
    const { withdrawal } = await withdraw(u, '5000', 'USDC');
    const first = await svc.advance(withdrawal.id);
    expect(first).toMatchObject({ status: 'approved', attempts: 1, failure_reason: expect.stringMatching(/^send simulation-failed/) });
    emu.expireBlockhashes();
    expect(await freshService().advance(withdrawal.id)).toMatchObject({ status: 'approved', attempts: 2 });
    emu.expireBlockhashes();
    const after = await freshService().advance(withdrawal.id);
    expect(after).toMatchObject({ status: 'refunded', previous_signatures: [first.signature] });
    expect(emu.tokenBalance(u.wallet, usdc)).toBe(0n);
    expect(await ledger.balance(u.discordId, 'USDC')).toBe(5_000_000_000n);
  });

  it('a slow confirmation waits (no rebuild) and then confirms', async () => {
    const u = await member('kate');
    const { withdrawal } = await withdraw(u, '1');
    emu.faults.delayConfirmation(400);
    const waiting = await svc.advance(withdrawal.id);
    expect(waiting.status).toBe('sent');
    await expect.poll(async () => (await freshService().advance(withdrawal.id)).status, { timeout: 5000, interval: 100 }).toBe('confirmed');
    expect((await row(withdrawal.id)).attempts).toBe(1);
    expect(await payoutsTo(u.wallet)).toBe(1);
  });

  it('RPC failures mid-way leave a resumable state', async () => {
    const u = await member('liam');
    const { withdrawal } = await withdraw(u, '1');
    emu.faults.failNextRpc('getBlockHeight', 503);
    await expect(svc.advance(withdrawal.id)).rejects.toThrow();
    expect((await row(withdrawal.id)).status).toBe('sent');
    expect((await freshService().advance(withdrawal.id)).status).toBe('confirmed');

    const v = await member('mia');
    const w2 = (await withdraw(v, '1')).withdrawal;
    emu.faults.failNextRpc('sendTransaction', 502);
    const after = await svc.advance(w2.id);
    expect(after.status).toBe('confirmed');
    expect(await payoutsTo(u.wallet)).toBe(1);
    expect(await payoutsTo(v.wallet)).toBe(1);
  });

  it('two processes advancing the same withdrawal at once pay once', async () => {
    const u = await member('noah');
    const { withdrawal } = await withdraw(u, '1');
    const [a, b] = [freshService(), freshService()];
    await Promise.all([a.advance(withdrawal.id), b.advance(withdrawal.id), a.advance(withdrawal.id)]);
    await freshService().advance(withdrawal.id);
    expect((await row(withdrawal.id)).status).toBe('confirmed');
    expect(await payoutsTo(u.wallet)).toBe(1);
  });

  it('the processor job resumes every open withdrawal and skips paused currencies for new transactions', async () => {
    const u = await member('olga', '5');
    const ids = [(await withdraw(u, '1')).withdrawal.id, (await withdraw(u, '1')).withdrawal.id];
    await svc.pause('SOL', 'test');
    try {
      await freshService().processPending();
      for (const id of ids) expect(await row(id)).toMatchObject({ status: 'approved', signature: null });
    } finally {
      await svc.resume('SOL');
    }
    const result = await freshService().processPending();
    expect(result.errors).toBe(0);
    for (const id of ids) expect((await row(id)).status).toBe('confirmed');
    expect(await t.db.selectFrom('withdrawals').select('id').where('status', 'in', ['approved', 'sent']).execute()).toEqual([]);
    expect(emu.balance(u.wallet)).toBe(2n * SOL);
  });
});

describe('ledger invariant', () => {
  it('balances + open withdrawals = external inflows − confirmed withdrawals, per currency', async () => {
    // Everything above plus tips (internal moves) and a pending, unreviewed withdrawal.
    const p = await member('pat', '50');
    const q = await member('quinn', '1');
    // Quinn also deposits on chain (an external inflow like admin credits).
    const deposits = new DepositsService(t.db, new ChainService(config), Currencies.fromConfig(config), { ttlMinutes: 30 }, log);
    const intent = await deposits.create({ interactionId: 'inv-dep', user: q, amount: '0.75' });
    const payer = emu.newWallet();
    await emu.transferSol(payer, treasury, 750_000_000n, { reference: intent.deposit.reference });
    expect(await deposits.watch()).toMatchObject({ credited: 1 });
    await ledger.tip({ interactionId: 'inv-tip', sender: p, receivers: [q], amount: '2.5' });
    await svc.advance((await withdraw(q, '3')).withdrawal.id);
    expect((await withdraw(p, '30')).withdrawal.status).toBe('requested');
    await withdraw(p, '7', 'SOL');
    const sums = await t.db
      .selectFrom('balances')
      .select((eb) => ['currency', eb.fn.sum<bigint>('amount').as('n')])
      .groupBy('currency')
      .execute();
    const ws = await t.db.selectFrom('withdrawals').select(['currency', 'status', 'amount', 'fee']).execute();
    const inflows = await t.db
      .selectFrom('journal')
      .select((eb) => ['currency', eb.fn.sum<bigint>('amount').as('n')])
      .where('type', 'in', ['admin_credit', 'deposit'])
      .groupBy('currency')
      .execute();
    for (const c of ['SOL', 'USDC']) {
      const balances = BigInt(sums.find((s) => s.currency === c)?.n ?? 0);
      const open = ws.filter((w) => w.currency === c && ['requested', 'approved', 'sent', 'failed'].includes(w.status)).reduce((a, w) => a + w.amount + w.fee, 0n);
      const out = ws.filter((w) => w.currency === c && w.status === 'confirmed').reduce((a, w) => a + w.amount + w.fee, 0n);
      const inflow = BigInt(inflows.find((s) => s.currency === c)?.n ?? 0);
      expect(balances + open, c).toBe(inflow - out);
    }
    expect(ws.some((w) => w.status === 'refunded')).toBe(true);
    expect(inflows.length).toBeGreaterThan(0);
    expect(await t.db.selectFrom('journal').select('id').where('type', '=', 'deposit').execute()).toHaveLength(1);
    expect(ws.some((w) => w.status === 'requested')).toBe(true);
  });
});

describe('velocity limits', () => {
  const limits = (over: Partial<WithdrawalLimits> = {}): WithdrawalLimits => ({ cooldownSeconds: 0, approvalWindowHours: 24, hourlyCap: {}, ...over });

  it('split withdrawals under the threshold: the rolling 24-hour total triggers approval', async () => {
    // SOL's approval threshold is 10 SOL: each request is under it, the third takes the day's total over it.
    const sam = await member('sam', '30');
    const s = freshService(2, limits());
    const [a, b, c] = [await withdraw(sam, '4', 'SOL', s), await withdraw(sam, '4', 'SOL', s), await withdraw(sam, '4', 'SOL', s)];
    expect([a, b, c].map((r) => r.withdrawal.status)).toEqual(['approved', 'approved', 'requested']);
    expect((await s.awaitingReview(100)).map((w) => w.id)).toContain(c.withdrawal.id);
    // A rejected (refunded) withdrawal no longer counts; one older than the window neither.
    await s.reject(c.withdrawal.id, moderator, 'split');
    await sql`update withdrawals set created_at = now() - interval '25 hours' where id = ${a.withdrawal.id}`.execute(t.db);
    expect((await withdraw(sam, '6', 'SOL', s)).withdrawal.status).toBe('approved');
    expect((await withdraw(sam, '0.5', 'SOL', s)).withdrawal.status).toBe('requested');
    // Per currency: USDC has its own total.
    await ledger.adminCredit({ idempotencyKey: 'fund-sam-usdc', user: sam, amount: '10', currency: 'USDC', actor: admin });
    expect((await withdraw(sam, '5', 'USDC', s)).withdrawal.status).toBe('approved');
  });

  it('two withdrawals at the same moment cannot both slip under the rolling total (the member row serializes them)', async () => {
    const s = [freshService(2, limits()), freshService(2, limits())] as const;
    for (let round = 0; round < 5; round++) {
      const u = await member(`racer${round}`, '20');
      const results = await Promise.all([withdraw(u, '6', 'SOL', s[0]), withdraw(u, '6', 'SOL', s[1])]);
      expect(results.map((r) => r.withdrawal.status).sort()).toEqual(['approved', 'requested']);
      expect(await ledger.balance(u.discordId, 'SOL')).toBe(8n * SOL);
    }
  });

  it('a per-member cooldown between requests; a retried interaction still replays; nothing changes when refused', async () => {
    const s = freshService(2, limits({ cooldownSeconds: 60 }));
    const uma = await member('uma', '5');
    const first = await s.request({ interactionId: 'cool-1', user: uma, amount: '1' });
    const before = await snapshot();
    await expect(withdraw(uma, '1', 'SOL', s)).rejects.toMatchObject({ code: 'WITHDRAW_COOLDOWN', message: expect.stringMatching(/^You can request another withdrawal in (59|60) seconds\.$/) });
    await expect(withdraw(uma, '1', 'USDC', s)).rejects.toMatchObject({ code: 'WITHDRAW_COOLDOWN' });
    // Two at once are serialized too: neither gets past the cooldown.
    const both = await Promise.allSettled([withdraw(uma, '1', 'SOL', s), withdraw(uma, '1', 'SOL', s)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await s.request({ interactionId: 'cool-1', user: uma, amount: '1' })).toMatchObject({ replayed: true, withdrawal: { id: first.withdrawal.id } });
    expect(await snapshot()).toEqual(before);
    // Once the cooldown has passed, the next one goes through.
    await sql`update withdrawals set created_at = now() - interval '61 seconds' where id = ${first.withdrawal.id}`.execute(t.db);
    expect((await withdraw(uma, '1', 'SOL', s)).withdrawal.status).toBe('approved');
  });

  it('the bot-wide hourly outflow cap holds payouts back (they wait, not fail), alerts once, and lets them go when the hour drains', async () => {
    const UNIT = 1_000_000n;
    const metrics = createMetrics();
    const s = freshService(2, limits({ hourlyCap: { CAPT: '3' } }), metrics);
    capEvents.length = 0;
    const alerts = capEvents;
    const capAudit = () => t.db.selectFrom('audit_events').selectAll().where('action', '=', 'withdrawal.payouts_capped').where('target', '=', 'currency:CAPT').execute();
    const vic = await member('vic', '10', 'CAPT');
    const [w1, w2, w3] = [await withdraw(vic, '2', 'CAPT', s), await withdraw(vic, '2', 'CAPT', s), await withdraw(vic, '1.5', 'CAPT', s)];
    expect((await s.advance(w1.withdrawal.id)).status).toBe('confirmed');
    // 2 + 2 > 3: the second waits, unsigned, its money still held in the withdrawal; so does the third (2 + 1.5 > 3).
    expect(await s.advance(w2.withdrawal.id)).toMatchObject({ status: 'approved', signature: null, released_at: null });
    expect(await s.advance(w3.withdrawal.id)).toMatchObject({ status: 'approved', signature: null });
    expect(await s.advance(w2.withdrawal.id)).toMatchObject({ status: 'approved', signature: null });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'payouts-capped', currency: { code: 'CAPT' }, cap: 3n * UNIT, releasedLastHour: 2n * UNIT, waiting: { id: w2.withdrawal.id } });
    // One audit row per episode, by the system, written with the hold.
    expect(await capAudit()).toEqual([
      expect.objectContaining({ via: 'system', actor_discord_id: null, guild_id: null, after: { releasedLastHour: String(2n * UNIT), cap: String(3n * UNIT), withdrawalId: String(w2.withdrawal.id) } }),
    ]);
    let text = await metrics.registry.metrics();
    expect(text).toContain('solbound_withdrawals_held_by_cap{currency="CAPT"} 2');
    expect(text).toContain('solbound_withdrawal_cap_holds_total{currency="CAPT"} 3');
    // The hour drains (released stamps age out): held payouts go out one under the cap at a time, and the alert clears.
    await t.db.updateTable('withdrawals').set({ released_at: sql<Date>`now() - interval '2 hours'` }).where('id', '=', w1.withdrawal.id).execute();
    expect((await s.advance(w2.withdrawal.id)).status).toBe('confirmed');
    expect((await s.advance(w3.withdrawal.id)).status).toBe('approved');
    await t.db.updateTable('withdrawals').set({ released_at: sql<Date>`now() - interval '2 hours'` }).where('id', '=', w2.withdrawal.id).execute();
    expect((await s.advance(w3.withdrawal.id)).status).toBe('confirmed');
    text = await metrics.registry.metrics();
    expect(text).toContain('solbound_withdrawals_held_by_cap{currency="CAPT"} 0');
    expect(alerts).toHaveLength(1);
    expect(await capAudit()).toHaveLength(1);
    expect(await ledger.balance(vic.discordId, 'CAPT')).toBe(4_500_000n);
  });
});

describe('blocked members', () => {
  it('a block that lands while a withdrawal is being requested is honoured: the request waits for it, then is refused', async () => {
    const wes = await member('wes', '5');
    const before = await snapshot();
    let commitBlock!: () => void;
    const gate = new Promise<void>((resolve) => (commitBlock = resolve));
    const blocking = t.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ is_blocked: true, blocked_reason: 'test' }).where('discord_id', '=', wes.discordId).execute();
      await gate;
    });
    const request = withdraw(wes, '1');
    request.catch(() => undefined);
    // The request is parked on the member's row lock until the block commits.
    await expect
      .poll(async () => (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(t.db)).rows[0]!.n)
      .toBe(1);
    commitBlock();
    await blocking;
    await expect(request).rejects.toMatchObject({ code: 'USER_BLOCKED' });
    expect(await snapshot()).toEqual(before);
  });

  it('a blocked member\'s withdrawal cannot be approved, and an approved one waits unsigned until they are unblocked', async () => {
    const xena = await member('xena', '30');
    const big = await withdraw(xena, '12');
    await users.block({ discordId: xena.discordId }, 'review', { discordId: admin.discordId, via: 'discord' });
    await expect(svc.approve(big.withdrawal.id, moderator)).rejects.toMatchObject({ code: 'OWNER_BLOCKED' });
    expect((await row(big.withdrawal.id)).status).toBe('requested');
    await users.unblock({ discordId: xena.discordId }, { discordId: admin.discordId, via: 'discord' });
    await svc.approve(big.withdrawal.id, moderator);
    await users.block({ discordId: xena.discordId }, 'again', { discordId: admin.discordId, via: 'discord' });
    expect(await svc.advance(big.withdrawal.id)).toMatchObject({ status: 'approved', signature: null });
    await users.unblock({ discordId: xena.discordId }, { discordId: admin.discordId, via: 'discord' });
    expect((await svc.advance(big.withdrawal.id)).status).toBe('confirmed');
  });
});
