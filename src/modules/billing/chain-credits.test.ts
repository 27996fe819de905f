import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import type { Invoice } from './billing.service';
import { InvoiceWatcher } from './invoice-watch';

// One on-chain transaction naming both a /deposit reference and an invoice reference is credited once, whichever
// watcher sees it first, and when both run at once (chain_credits, migration 2026_11_28_200000).

let t: TestDatabase;
let emu: SolanaEmulator;
let ctx: AppContext;
let treasury: string;
const SOL = 1_000_000_000n;
const GUILD = '960000000000000001';
const staff = { discordId: '960000000000000002', via: 'discord' as const };

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  const gen = generateTreasury();
  treasury = gen.treasury.publicKey;
  ctx = createTestContext(t, { SOLANA_RPC_URL: emu.rpcUrl, SOLANA_WS_URL: emu.wsUrl, TREASURY_SECRET_KEY: gen.secretJson });
  await ctx.services.billing.catalog.createPlan(staff, {
    guildId: GUILD,
    code: 'gold',
    name: 'Gold',
    roleId: '960000000000000003',
    prices: [{ cycle: 'month', price: '1', currency: 'SOL' }],
  });
});

afterAll(async () => {
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await t?.drop();
});

let seq = 0;
const member = () => ({ discordId: `96100000000000${String(++seq).padStart(4, '0')}`, username: `m${seq}` });
const watcher = () => new InvoiceWatcher(ctx.db, ctx.services.chain, {}, ctx.log);

/** A member with an open invoice and an open /deposit, and one transfer naming both references. */
async function doublyReferenced(): Promise<{ u: ReturnType<typeof member>; invoice: Invoice; depositId: bigint; signature: string }> {
  const u = member();
  const checkout = await ctx.services.billing.subscribe({ interactionId: `cc-${++seq}`, guildId: GUILD, user: u, plan: 'gold', cycle: 'month' });
  const intent = await ctx.services.deposits.create({ interactionId: `cc-${++seq}`, user: u, amount: '1' });
  const signature = await emu.transferSol(emu.newWallet(10n * SOL), treasury, SOL, { reference: [intent.deposit.reference, checkout.invoice.reference] });
  return { u, invoice: checkout.invoice, depositId: intent.deposit.id, signature };
}

/** Everything credited for the signature: deposit and invoice inflows, and the rows that claim it. */
async function credits(signature: string) {
  const journal = await t.db
    .selectFrom('journal')
    .select(['type', 'amount'])
    .where('idempotency_key', 'in', [`deposit:${signature}`, `invoice-deposit:${signature}`])
    .execute();
  const deposits = await t.db.selectFrom('deposits').select(['id', 'status']).where('signature', '=', signature).execute();
  const payments = await t.db.selectFrom('billing_invoice_payments').select(['invoice_id']).where('signature', '=', signature).execute();
  const claim = await t.db.selectFrom('chain_credits').select('purpose').where('signature', '=', signature).execute();
  return { journal, deposits, payments, claim };
}

const balance = (u: { discordId: string }) => ctx.services.ledger.balance(u.discordId, 'SOL');
const invoiceStatus = (i: Invoice) => ctx.services.billing.invoice(i.id).then((x) => x!.status);
const depositRow = (id: bigint) => t.db.selectFrom('deposits').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** A point a transaction waits at until the test releases it. */
function pause() {
  let reached!: () => void;
  let release!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  const gate = new Promise<void>((r) => (release = r));
  return { reached, atGate, gate, release };
}

/** Waits until `n` sessions of this database wait on a lock (a row or an uncommitted key), polling. */
async function lockWaiters(n: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(t.db);
    if (rows[0]!.n >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never saw ${n} sessions waiting on a lock`);
}

describe('one signature, one credit across deposits and invoices', () => {
  it('deposit-watch first: the deposit is credited, invoice-watch ignores the transaction', async () => {
    const { u, invoice, depositId, signature } = await doublyReferenced();
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 1, errors: 0 });
    expect(await watcher().run()).toMatchObject({ paid: 0, late: 0, partial: 0, ignored: 1, errors: 0 });
    const c = await credits(signature);
    expect(c.journal).toEqual([{ type: 'deposit', amount: SOL }]);
    expect(c.claim).toEqual([{ purpose: 'deposit' }]);
    expect(c.payments).toEqual([]);
    expect((await depositRow(depositId)).status).toBe('credited');
    expect(await invoiceStatus(invoice)).toBe('CREATED');
    expect(await balance(u)).toBe(SOL);
    const ignored = await t.db.selectFrom('billing_invoice_ignored_signatures').select('reason').where('invoice_id', '=', invoice.id).execute();
    expect(ignored).toEqual([{ reason: 'credited-as-deposit' }]);
  });

  it('invoice-watch first: the invoice is paid, deposit-watch does not credit the transaction again', async () => {
    const { u, invoice, depositId, signature } = await doublyReferenced();
    expect(await watcher().run()).toMatchObject({ paid: 1, errors: 0 });
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 0, errors: 0 });
    const c = await credits(signature);
    expect(c.journal).toEqual([{ type: 'invoice_deposit', amount: SOL }]);
    expect(c.claim).toEqual([{ purpose: 'invoice' }]);
    expect(c.deposits).toEqual([]);
    expect(await invoiceStatus(invoice)).toBe('PAID');
    // The whole transfer went to the membership; nothing extra reached the balance.
    expect(await balance(u)).toBe(0n);
    const deposit = await depositRow(depositId);
    expect(deposit).toMatchObject({ status: 'pending', signature: null });
    expect(deposit.failure_reason).toBe(`transaction ${signature} already paid an invoice`);
    // Once the request runs out it closes as failed, with that reason for support.
    await t.db.updateTable('deposits').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', depositId).execute();
    expect(await ctx.services.deposits.watch()).toMatchObject({ credited: 0, failed: 1 });
    expect(await credits(signature)).toMatchObject({ journal: [{ type: 'invoice_deposit', amount: SOL }] });
  });

  it('both watchers at once: each signature is credited exactly once', async () => {
    const cases = [];
    for (let i = 0; i < 4; i++) cases.push(await doublyReferenced());
    const runs = await Promise.all([ctx.services.deposits.watch(), watcher().run(), ctx.services.deposits.watch(), watcher().run()]);
    expect(runs.map((r) => r.errors)).toEqual([0, 0, 0, 0]);
    // A second round settles whatever lost a race (the loser only looks again).
    await Promise.all([ctx.services.deposits.watch(), watcher().run()]);
    for (const { u, invoice, signature } of cases) {
      const c = await credits(signature);
      expect(c.journal).toHaveLength(1);
      expect(c.journal[0]!.amount).toBe(SOL);
      expect(c.claim).toHaveLength(1);
      expect(c.deposits.length + c.payments.length).toBe(1);
      if (c.claim[0]!.purpose === 'deposit') {
        expect(await invoiceStatus(invoice)).toBe('CREATED');
        expect(await balance(u)).toBe(SOL);
      } else {
        expect(await invoiceStatus(invoice)).toBe('PAID');
        expect(await balance(u)).toBe(0n);
      }
    }
  });

  it('race, invoice first: deposit-watch waits on the invoice payment\'s uncommitted claim, then leaves the transaction alone', async () => {
    const { u, invoice, depositId, signature } = await doublyReferenced();
    const paused = pause();
    const paying = t.db.transaction().execute(async (trx) => {
      const r = await ctx.services.billing.applyPayment(trx, invoice.id, { source: 'chain', amount: SOL, signature, at: new Date() });
      paused.reached();
      await paused.gate;
      return r;
    });
    await paused.atGate;
    const depositing = ctx.services.deposits.watch();
    await lockWaiters(1);
    paused.release();
    expect((await paying).outcome).toBe('paid');
    expect(await depositing).toMatchObject({ credited: 0, errors: 0 });
    expect(await credits(signature)).toMatchObject({ journal: [{ type: 'invoice_deposit', amount: SOL }], claim: [{ purpose: 'invoice' }], deposits: [] });
    expect(await depositRow(depositId)).toMatchObject({ status: 'pending', signature: null });
    expect(await balance(u)).toBe(0n);
  });

  it('race, deposit first: invoice-watch waits on the deposit\'s uncommitted claim, then ignores the transaction', async () => {
    const { u, invoice, depositId, signature } = await doublyReferenced();
    // Holding the member's balance row pauses deposit-watch's credit after its claim, before its commit.
    await sql`insert into balances (user_id, currency, amount) values (${invoice.user_id}, 'SOL', 0) on conflict do nothing`.execute(t.db);
    const paused = pause();
    const holder = t.db.transaction().execute(async (trx) => {
      await sql`select 1 from balances where user_id = ${invoice.user_id} and currency = 'SOL' for update`.execute(trx);
      paused.reached();
      await paused.gate;
    });
    await paused.atGate;
    const depositing = ctx.services.deposits.watch();
    await lockWaiters(1);
    const watching = watcher().run();
    await lockWaiters(2);
    paused.release();
    await holder;
    expect(await depositing).toMatchObject({ credited: 1, errors: 0 });
    expect(await watching).toMatchObject({ paid: 0, late: 0, partial: 0, errors: 0 });
    expect(await credits(signature)).toMatchObject({ journal: [{ type: 'deposit', amount: SOL }], claim: [{ purpose: 'deposit' }], payments: [] });
    expect((await depositRow(depositId)).status).toBe('credited');
    expect(await invoiceStatus(invoice)).toBe('CREATED');
    const ignored = await t.db.selectFrom('billing_invoice_ignored_signatures').select('reason').where('invoice_id', '=', invoice.id).execute();
    expect(ignored).toEqual([{ reason: 'credited-as-deposit' }]);
    expect(await balance(u)).toBe(SOL);
  });

  it('keeps money conserved: balances + revenue = what arrived on chain', async () => {
    const { rows } = await sql<{ held: string; inflow: string; onchain: string }>`
      select
        ((select coalesce(sum(amount), 0) from account_balances where currency = 'SOL')
          + (select coalesce(sum(amount), 0) from guild_revenue where currency = 'SOL'))::text as held,
        (select coalesce(sum(amount), 0) from journal where currency = 'SOL' and type in ('deposit', 'invoice_deposit'))::text as inflow,
        (select count(*) * ${SOL.toString()}::numeric from chain_credits)::text as onchain`.execute(t.db);
    const r = rows[0]!;
    expect(BigInt(r.held)).toBe(BigInt(r.inflow));
    expect(BigInt(r.inflow)).toBe(BigInt(r.onchain));
  });
});
