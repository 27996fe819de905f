import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { JobRunner } from '../../jobs/job-runner';
import { createMetrics } from '../../metrics';
import { Factory } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { Currencies } from '../ledger/currencies';
import solvencyCheck from './solvency-check.job';
import { SolvencyService } from './solvency.service';

let t: TestDatabase;
let emu: SolanaEmulator;
let ctx: AppContext;
let treasury: string;
let usdc: string;
const metrics = createMetrics();
let solvency: SolvencyService;
const SOL = 1_000_000_000n;
const admin = { discordId: '100000000000000001', username: 'ops' };
const alice = { discordId: '600000000000000001', username: 'alice' };

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  usdc = (await emu.createMint(6)).toBase58();
  const gen = generateTreasury();
  treasury = gen.treasury.publicKey;
  emu.fund(treasury, 10n * SOL);
  ctx = createTestContext(t, {
    SOLANA_RPC_URL: emu.rpcUrl,
    SOLANA_WS_URL: emu.wsUrl,
    TREASURY_SECRET_KEY: gen.secretJson,
    LEDGER_TOKENS: `USDC:${usdc}:6`,
  });
  solvency = new SolvencyService(t.db, ctx.services.chain, Currencies.fromConfig(ctx.config), ctx.services.withdrawals, metrics, ctx.log);
});

afterAll(async () => {
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await t?.drop();
});

const credit = (amount: string, currency = 'SOL') =>
  ctx.services.ledger.adminCredit({ idempotencyKey: `c-${amount}-${currency}-${Math.random()}`, user: alice, amount, currency, actor: admin });
const gauge = async (name: string, currency: string) =>
  (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.currency === currency)?.value;
const method = (currency: string) => t.db.selectFrom('withdraw_methods').selectAll().where('currency', '=', currency).executeTakeFirstOrThrow();

describe('solvency-check', () => {
  it('is quiet while holdings cover balances', async () => {
    await credit('6');
    const reports = await solvency.check();
    expect(reports.map((r) => [r.currency.code, r.onChain, r.liabilities, r.shortfall, r.action])).toEqual([
      ['SOL', 10n * SOL, 6n * SOL, 0n, null],
      ['USDC', 0n, 0n, 0n, null],
    ]);
    expect(await gauge('solbound_treasury_shortfall', 'SOL')).toBe(0);
    expect(await gauge('solbound_withdrawals_paused', 'SOL')).toBe(0);
  });

  it('on a breach (balances + withdrawals in flight > holdings) alerts, pauses that currency only, then resumes', async () => {
    await credit('5');
    // A withdrawal the member asked for (2 of those 5 SOL) but that has not been paid: still owed, so still a liability.
    const factory = new Factory(t.db);
    await factory.withdrawal(await factory.user({ discordId: alice.discordId }), { amount: 2n * SOL, destination: treasury, status: 'requested' });
    const [sol, tok] = await solvency.check();
    expect(sol).toMatchObject({ balances: 9n * SOL, pendingWithdrawals: 2n * SOL, liabilities: 11n * SOL, shortfall: SOL, action: 'paused' });
    expect(tok).toMatchObject({ shortfall: 0n, action: null });
    expect(await gauge('solbound_treasury_shortfall', 'SOL')).toBe(Number(SOL));
    expect(await gauge('solbound_withdrawals_paused', 'SOL')).toBe(1);
    expect(await method('SOL')).toMatchObject({ enabled: true, paused_reason: 'treasury holds 10 SOL but owes 11 SOL' });
    expect((await method('USDC')).paused_at).toBeNull();
    await expect(ctx.services.withdrawals.request({ interactionId: 'blocked', user: alice, amount: '1' })).rejects.toMatchObject({ code: 'WITHDRAW_PAUSED' });
    // Still short: stays paused, nothing new to do.
    expect((await solvency.check())[0]!.action).toBeNull();

    emu.fund(treasury, 2n * SOL);
    const [recovered] = await solvency.check();
    expect(recovered).toMatchObject({ shortfall: 0n, action: 'resumed' });
    expect(await method('SOL')).toMatchObject({ paused_at: null, paused_reason: null });
    expect(await gauge('solbound_withdrawals_paused', 'SOL')).toBe(0);
  });

  it('an SPL shortfall pauses that token; recovery never re-enables a currency an admin disabled', async () => {
    await credit('5', 'USDC');
    await ctx.services.withdrawals.updateMethod('USDC', { enabled: false });
    const runner = new JobRunner(ctx, [solvencyCheck]);
    const first = await runner.runNow('solvency-check');
    expect(first).toMatchObject({ status: 'ok', result: expect.arrayContaining([expect.objectContaining({ currency: 'USDC', shortfall: '5000000', action: 'paused' })]) });
    await emu.mintTo(usdc, treasury, 5_000_000n);
    expect(await runner.runNow('solvency-check')).toMatchObject({ result: expect.arrayContaining([expect.objectContaining({ currency: 'USDC', action: 'resumed' })]) });
    expect(await method('USDC')).toMatchObject({ enabled: false, paused_at: null });
  });

  it('open airdrop escrow still counts as owed: moving a balance into an airdrop leaves liabilities unchanged', async () => {
    await credit('1');
    const before = (await solvency.check())[0]!;
    await ctx.services.ledger.createAirdrop({
      interactionId: 'escrow-airdrop', creator: alice, amount: '1', currency: 'SOL', claims: 2, durationSeconds: 3600, guildId: null, channelId: null,
    });
    const after = (await solvency.check())[0]!;
    expect(after.liabilities).toBe(before.liabilities);
  });

  it('guild membership revenue still counts as owed: paying a plan from balance leaves liabilities unchanged', async () => {
    await credit('1');
    const before = (await solvency.check())[0]!;
    await ctx.services.billing.catalog.createPlan(
      { discordId: admin.discordId, via: 'discord' },
      { guildId: '700000000000000001', code: 'vip', name: 'VIP', roleId: '710000000000000001', prices: [{ cycle: 'month', price: '0.5', currency: 'SOL' }] },
    );
    const { invoice } = await ctx.services.billing.subscribe({ interactionId: 'solvency-sub', guildId: '700000000000000001', user: alice, plan: 'vip', cycle: 'month' });
    expect((await ctx.services.billing.payFromBalance(invoice.id, alice)).invoice.status).toBe('PAID');
    expect((await ctx.services.billing.revenue('700000000000000001')).get('SOL')).toBe(SOL / 2n);
    const after = (await solvency.check())[0]!;
    expect(after.liabilities).toBe(before.liabilities);
  });
});
