import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { parseTransferRequestUrl } from '../../chain/solana-pay';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { captureLogs } from '../../testing/log-capture';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import type { Invoice } from './billing.service';
import { expireInvoices } from './billing-jobs';
import { InvoiceWatcher, type InvoicePaymentEvent } from './invoice-watch';

let t: TestDatabase;
let emu: SolanaEmulator;
let ctx: AppContext;
let usdc: string;
let other: string;
let treasury: string;
const notified: InvoicePaymentEvent[] = [];
const SOL = 1_000_000_000n;
const GUILD = '930000000000000001';
const staff = { discordId: '930000000000000002', via: 'discord' as const };

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  usdc = (await emu.createMint(6)).toBase58();
  other = (await emu.createMint(6)).toBase58();
  const gen = generateTreasury();
  treasury = gen.treasury.publicKey;
  ctx = createTestContext(
    t,
    { SOLANA_RPC_URL: emu.rpcUrl, SOLANA_WS_URL: emu.wsUrl, TREASURY_SECRET_KEY: gen.secretJson, LEDGER_TOKENS: `USDC:${usdc}:6,OTHER:${other}:6` },
    { billingPayments: async (e) => void notified.push(e) },
  );
  await ctx.services.billing.catalog.createPlan(staff, {
    guildId: GUILD,
    code: 'gold',
    name: 'Gold',
    roleId: '930000000000000003',
    prices: [
      { cycle: 'month', price: '1', currency: 'SOL' },
      { cycle: 'month', price: '5', currency: 'USDC' },
    ],
  });
});

afterAll(async () => {
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await t?.drop();
});

let seq = 0;
const member = () => ({ discordId: `93100000000000${String(++seq).padStart(4, '0')}`, username: `m${seq}` });
const watcher = () => new InvoiceWatcher(ctx.db, ctx.services.chain, { notify: ctx.effects.billingPayments }, ctx.log);

async function subscribe(u: ReturnType<typeof member>, currency = 'SOL') {
  const c = await ctx.services.billing.subscribe({ interactionId: `iw-${++seq}`, guildId: GUILD, user: u, plan: 'gold', cycle: 'month', currency });
  expect(c.solanaPayUrl).not.toBeNull();
  const req = parseTransferRequestUrl(c.solanaPayUrl!);
  expect(req).toMatchObject({ recipient: treasury, references: [c.invoice.reference] });
  return c.invoice;
}

const wallet = () => emu.newWallet(10n * SOL);
/** Pays like a Solana Pay wallet: the reference key as a read-only account of the transfer. */
async function paySol(invoice: Invoice | Invoice[], lamports: bigint, to = treasury) {
  const refs = (Array.isArray(invoice) ? invoice : [invoice]).map((i) => i.reference);
  return emu.transferSol(wallet(), to, lamports, { reference: refs });
}
async function payToken(invoice: Invoice, mint: string, amount: bigint, to = treasury) {
  const w = wallet();
  await emu.mintTo(mint, w.publicKey, amount);
  return emu.transferToken(w, mint, to, amount, { reference: [invoice.reference] });
}

const reload = (i: Invoice) => ctx.services.billing.invoice(i.id).then((x) => x!);
const balance = (u: { discordId: string }, currency = 'SOL') => ctx.services.ledger.balance(u.discordId, currency);
const payments = (i: Invoice) => t.db.selectFrom('billing_invoice_payments').selectAll().where('invoice_id', '=', i.id).orderBy('id').execute();
const liveSubscriptions = (i: Invoice) =>
  t.db.selectFrom('billing_subscriptions').selectAll().where('user_id', '=', i.user_id).where('status', '=', 'ACTIVE').execute();
const revenue = async (currency = 'SOL') => (await ctx.services.billing.revenue(GUILD)).get(currency) ?? 0n;
const dmsFor = (i: Invoice) => notified.filter((n) => n.invoiceNumber === i.number);

describe('invoice-watch', () => {
  it('an exact SOL payment pays the invoice once and activates the subscription', async () => {
    const u = member();
    const invoice = await subscribe(u);
    expect(await watcher().run()).toMatchObject({ paid: 0, errors: 0 });
    const before = await revenue();
    const signature = await paySol(invoice, SOL);

    expect(await watcher().run()).toMatchObject({ paid: 1, errors: 0 });
    const paid = await reload(invoice);
    expect(paid).toMatchObject({ status: 'PAID', paid_amount: SOL });
    expect(await payments(invoice)).toMatchObject([{ signature, amount: SOL, applied_amount: SOL, credited_amount: 0n, source: 'chain' }]);
    expect(await liveSubscriptions(invoice)).toHaveLength(1);
    expect((await revenue()) - before).toBe(SOL);
    expect(await balance(u)).toBe(0n);
    expect(dmsFor(invoice)).toMatchObject([{ outcome: 'paid', received: SOL, credited: 0n, status: 'PAID', discordId: u.discordId }]);

    // The same signature seen again (next runs, still inside the late window): nothing more moves.
    expect(await watcher().run()).toMatchObject({ paid: 0, late: 0, replayed: 0, errors: 0 });
    expect(await payments(invoice)).toHaveLength(1);
    expect((await revenue()) - before).toBe(SOL);
  });

  it('an underpayment by 1 base unit stays pending; a second payment completes it', async () => {
    const u = member();
    const invoice = await subscribe(u);
    await paySol(invoice, SOL - 1n);
    expect(await watcher().run()).toMatchObject({ partial: 1, paid: 0 });
    expect(await reload(invoice)).toMatchObject({ status: 'PENDING', paid_amount: SOL - 1n });
    expect(await liveSubscriptions(invoice)).toHaveLength(0);
    expect(dmsFor(invoice)).toMatchObject([{ outcome: 'partial', due: 1n }]);

    await paySol(invoice, 1n);
    expect(await watcher().run()).toMatchObject({ paid: 1 });
    expect(await reload(invoice)).toMatchObject({ status: 'PAID', paid_amount: SOL });
    expect(await liveSubscriptions(invoice)).toHaveLength(1);
    expect(await balance(u)).toBe(0n);
  });

  it("an overpayment pays the invoice and credits the excess to the member's balance", async () => {
    const u = member();
    const invoice = await subscribe(u);
    await paySol(invoice, SOL + 250_000_000n);
    expect(await watcher().run()).toMatchObject({ paid: 1 });
    expect(await reload(invoice)).toMatchObject({ status: 'PAID', paid_amount: SOL });
    expect(await balance(u)).toBe(250_000_000n);
    expect(await payments(invoice)).toMatchObject([{ amount: SOL + 250_000_000n, applied_amount: SOL, credited_amount: 250_000_000n }]);
    expect(dmsFor(invoice)).toMatchObject([{ outcome: 'paid', credited: 250_000_000n }]);
  });

  it('an SPL invoice is paid in its mint; another mint and another recipient are ignored with one log line each', async () => {
    const u = member();
    const invoice = await subscribe(u, 'USDC');
    expect(invoice).toMatchObject({ mint: usdc, amount: 5_000_000n });
    const wrongMint = await payToken(invoice, other, 5_000_000n);
    const wrongRecipient = await payToken(invoice, usdc, 5_000_000n, emu.newWallet().publicKey.toBase58());
    const solInstead = await paySol(invoice, SOL);
    const { log, lines } = captureLogs('info');
    expect(await new InvoiceWatcher(ctx.db, ctx.services.chain, {}, log).run()).toMatchObject({ ignored: 3, paid: 0, partial: 0, late: 0 });
    const logged = lines.filter((l) => l.invoiceId !== undefined && String(l.msg).includes('ignored'));
    expect(logged.map((l) => [l.signature, l.reason, l.level])).toEqual(
      expect.arrayContaining([
        [wrongMint, 'wrong-mint', 40],
        [wrongRecipient, 'recipient-not-credited', 40],
        [solInstead, 'recipient-not-credited', 40],
      ]),
    );
    expect(logged).toHaveLength(3);
    expect(await reload(invoice)).toMatchObject({ status: 'CREATED', paid_amount: 0n });
    const ignored = await t.db.selectFrom('billing_invoice_ignored_signatures').select(['signature', 'reason']).where('invoice_id', '=', invoice.id).execute();
    expect(new Map(ignored.map((r) => [r.signature, r.reason]))).toEqual(
      new Map([
        [wrongMint, 'wrong-mint'],
        [wrongRecipient, 'recipient-not-credited'],
        [solInstead, 'recipient-not-credited'],
      ]),
    );
    expect(await balance(u, 'USDC')).toBe(0n);
    expect(await balance(u, 'OTHER')).toBe(0n);
    // Ignored once: the next run neither counts nor re-fetches them.
    expect(await watcher().run()).toMatchObject({ ignored: 0 });

    await payToken(invoice, usdc, 5_000_000n);
    expect(await watcher().run()).toMatchObject({ paid: 1, ignored: 0 });
    expect(await reload(invoice)).toMatchObject({ status: 'PAID', paid_amount: 5_000_000n });
    expect(await revenue('USDC')).toBe(5_000_000n);
  });

  it('a SOL invoice paid in a token is a wrong mint', async () => {
    const invoice = await subscribe(member());
    const sig = await payToken(invoice, usdc, 1_000_000n);
    expect(await watcher().run()).toMatchObject({ ignored: 1 });
    const row = await t.db.selectFrom('billing_invoice_ignored_signatures').selectAll().where('signature', '=', sig).executeTakeFirstOrThrow();
    expect(row.reason).toBe('wrong-mint');
  });

  it('a payment after expiry is credited to the balance, never activates anything, and the member is told', async () => {
    const u = member();
    const invoice = await subscribe(u);
    // Partly paid while open…
    await paySol(invoice, SOL / 2n);
    expect(await watcher().run()).toMatchObject({ partial: 1 });
    // …then the quote runs out before the rest lands.
    await t.db.updateTable('billing_invoices').set({ rate_locked_until: new Date(Date.now() - 60_000) }).where('id', '=', invoice.id).execute();
    await paySol(invoice, SOL);
    expect(await watcher().run()).toMatchObject({ late: 1, paid: 0 });
    const expired = await reload(invoice);
    expect(expired).toMatchObject({ status: 'EXPIRED', paid_at: null });
    expect(await liveSubscriptions(invoice)).toHaveLength(0);
    // Both the returned partial payment and the late one are the member's.
    expect(await balance(u)).toBe(SOL + SOL / 2n);
    expect(dmsFor(invoice).map((d) => d.outcome)).toEqual(['partial', 'late']);
    expect(dmsFor(invoice)[1]).toMatchObject({ status: 'EXPIRED', received: SOL, credited: SOL, applied: 0n });

    // Still watched after expiry: an exact payment much later is credited too, and the invoice is never PAID.
    await paySol(invoice, SOL);
    expect(await watcher().run()).toMatchObject({ late: 1, paid: 0 });
    expect(await reload(invoice)).toMatchObject({ status: 'EXPIRED', paid_at: null });
    expect(await balance(u)).toBe(2n * SOL + SOL / 2n);
    expect(await liveSubscriptions(invoice)).toHaveLength(0);
    await expect(
      t.db.updateTable('billing_invoices').set({ status: 'PAID', paid_at: new Date(), paid_amount: SOL, expired_at: null }).where('id', '=', invoice.id).execute(),
    ).rejects.toMatchObject({ code: 'SB010' });
  });

  it('a payment to a canceled invoice is credited to the balance', async () => {
    const u = member();
    const invoice = await subscribe(u);
    await t.db.transaction().execute((trx) => ctx.services.billing.closeOpenInvoice(trx, invoice.id, 'CANCELED'));
    await paySol(invoice, SOL);
    expect(await watcher().run()).toMatchObject({ late: 1 });
    expect(await reload(invoice)).toMatchObject({ status: 'CANCELED' });
    expect(await balance(u)).toBe(SOL);
    expect(dmsFor(invoice)).toMatchObject([{ outcome: 'late', status: 'CANCELED' }]);
  });

  it('stops watching a closed invoice once the late window has passed', async () => {
    const u = member();
    const invoice = await subscribe(u);
    await t.db.transaction().execute((trx) => ctx.services.billing.closeOpenInvoice(trx, invoice.id, 'EXPIRED'));
    await paySol(invoice, SOL);
    const narrow = new InvoiceWatcher(ctx.db, ctx.services.chain, { lateWindowMinutes: 0 });
    expect(await narrow.run()).toMatchObject({ late: 0 });
    expect(await balance(u)).toBe(0n);
    expect(await watcher().run()).toMatchObject({ late: 1 });
    expect(await balance(u)).toBe(SOL);
  });

  it('one transaction naming two invoices pays only one of them', async () => {
    const a = await subscribe(member());
    const b = await subscribe(member());
    const signature = await paySol([a, b], SOL);
    const result = await watcher().run();
    expect(result.paid + result.late).toBe(1);
    const rows = await t.db.selectFrom('billing_invoice_payments').selectAll().where('signature', '=', signature).execute();
    expect(rows).toHaveLength(1);
    expect([(await reload(a)).status, (await reload(b)).status].sort()).toEqual(['CREATED', 'PAID']);
  });

  it('two watchers racing over the same payments credit each signature once', async () => {
    const users = [member(), member(), member()];
    const invoices = await Promise.all(users.map((u) => subscribe(u)));
    await Promise.all(invoices.map((i) => paySol(i, SOL + 1n)));
    const revenueBefore = await revenue();
    const [x, y] = await Promise.all([watcher().run(), watcher().run()]);
    expect(x.errors + y.errors).toBe(0);
    expect(x.paid + y.paid).toBe(3);
    for (const [i, invoice] of invoices.entries()) {
      expect(await reload(invoice)).toMatchObject({ status: 'PAID', paid_amount: SOL });
      expect(await payments(invoice)).toHaveLength(1);
      expect(await balance(users[i]!)).toBe(1n);
      expect(await liveSubscriptions(invoice)).toHaveLength(1);
      expect(dmsFor(invoice)).toHaveLength(1);
    }
    expect((await revenue()) - revenueBefore).toBe(3n * SOL);
  });

  it('an RPC failure on one invoice is retried next run and the batch goes on', async () => {
    const invoice = await subscribe(member());
    await paySol(invoice, SOL);
    emu.faults.failNextRpc('getSignaturesForAddress', 503);
    const first = await watcher().run();
    expect(first.errors).toBe(1);
    const again = await watcher().run();
    expect(again.errors).toBe(0);
    expect(await reload(invoice)).toMatchObject({ status: 'PAID' });
  });

  it('invoice-expiry takes a last look: a payment that landed before rate_locked_until pays, not expires, the invoice', async () => {
    const u = member();
    const invoice = await subscribe(u);
    // Paid in time, but invoice-watch has not run since: the expiry job comes first.
    const signature = await paySol(invoice, SOL);
    const r = await expireInvoices(ctx, { now: new Date(invoice.rate_locked_until.getTime() + 1000) });
    expect(r).toMatchObject({ paid: 1, failed: 0 });
    expect(await reload(invoice)).toMatchObject({ status: 'PAID', paid_amount: SOL, expired_at: null });
    expect(await payments(invoice)).toMatchObject([{ signature, applied_amount: SOL, credited_amount: 0n }]);
    expect(await liveSubscriptions(invoice)).toHaveLength(1);
    expect(await balance(u)).toBe(0n);
    expect(dmsFor(invoice)).toMatchObject([{ outcome: 'paid', status: 'PAID' }]);
    // Nothing left for the watcher, and a second expiry run has nothing to do with it.
    expect(await watcher().run()).toMatchObject({ paid: 0, late: 0, errors: 0 });
    expect(await expireInvoices(ctx, { now: new Date(invoice.rate_locked_until.getTime() + 1000) })).toMatchObject({ paid: 0, failed: 0 });
  });

  it('invoice-expiry leaves an invoice open when its last look fails, and expires it on a later run', async () => {
    const invoice = await subscribe(member());
    const now = new Date(invoice.rate_locked_until.getTime() + 1000);
    emu.faults.failNextRpc('getSignaturesForAddress', 503);
    expect(await expireInvoices(ctx, { now })).toMatchObject({ failed: 1 });
    expect(await reload(invoice)).toMatchObject({ status: 'CREATED' });
    expect(await expireInvoices(ctx, { now })).toMatchObject({ failed: 0 });
    expect(await reload(invoice)).toMatchObject({ status: 'EXPIRED' });
  });

  it('keeps money conserved: balances + revenue = what arrived on chain for invoices', async () => {
    const { rows } = await sql<{ balances: string; revenue: string; inflow: string }>`
      select
        (select coalesce(sum(amount), 0) from account_balances where currency = 'SOL')::text as balances,
        (select coalesce(sum(amount), 0) from guild_revenue where currency = 'SOL')::text as revenue,
        (select coalesce(sum(amount), 0) from journal where currency = 'SOL' and type = 'invoice_deposit')::text as inflow`.execute(t.db);
    const r = rows[0]!;
    expect(BigInt(r.balances) + BigInt(r.revenue)).toBe(BigInt(r.inflow));
    const { rows: chainTotal } = await sql<{ total: string }>`
      select coalesce(sum(amount), 0)::text as total from billing_invoice_payments where currency = 'SOL' and source = 'chain'`.execute(t.db);
    expect(BigInt(chainTotal[0]!.total)).toBe(BigInt(r.inflow));
  });
});
