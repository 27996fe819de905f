import { Transaction } from '@solana/web3.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { checkoutRoutes, EVENTS_STREAMS_PER_CLIENT } from './checkout.routes';

let t: TestDatabase;
let sol: SolanaEmulator;
let ctx: AppContext;
let http: FastifyInstance;
let usdc: string;
const GUILD = '950000000000000001';
let seq = 0;

beforeAll(async () => {
  [t, sol] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  usdc = (await sol.createMint(6)).toBase58();
  const gen = generateTreasury();
  ctx = createTestContext(t, { SOLANA_RPC_URL: sol.rpcUrl, SOLANA_WS_URL: sol.wsUrl, TREASURY_SECRET_KEY: gen.secretJson, LEDGER_TOKENS: `USDC:${usdc}:6` });
  await ctx.services.billing.catalog.createPlan(
    { discordId: '950000000000000002', via: 'discord' },
    { guildId: GUILD, code: 'pro', name: 'Pro', roleId: '950000000000000003', prices: [{ cycle: 'month', price: '2', currency: 'USDC' }, { cycle: 'month', price: '1', currency: 'SOL' }] },
  );
  http = await createHttpServer({ ctx, metrics: createMetrics(), plugins: [checkoutRoutes] });
});
afterAll(async () => {
  await http?.close();
  expect(sol?.failures).toEqual([]);
  await sol?.close();
  await t?.drop();
});

const subscribe = (currency: string) =>
  ctx.services.billing
    .subscribe({ interactionId: `cr-${++seq}`, guildId: GUILD, user: { discordId: `9510000000000000${String(seq).padStart(2, '0')}`, username: `u${seq}` }, plan: 'pro', cycle: 'month', currency })
    .then((c) => c.invoice);
const tx = (reference: string, account: string) => http.inject({ method: 'POST', url: `/pay/${reference}/transaction`, payload: { account } });
const events = (reference: string) => http.inject({ method: 'GET', url: `/pay/${reference}/events` });

describe('checkout API', () => {
  it('builds the unsigned SPL transfer of what is due, from the wallet to the treasury, carrying the reference', async () => {
    const invoice = await subscribe('USDC');
    const payer = sol.newWallet().publicKey.toBase58();
    const res = await tx(invoice.reference, payer);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json<{ transaction: string; message: string }>();
    expect(body.message).toBe(`Pro · ${invoice.number} · 2 USDC`);
    const built = Transaction.from(Buffer.from(body.transaction, 'base64'));
    expect(built.feePayer?.toBase58()).toBe(payer);
    expect(built.signatures.every((s) => s.signature === null)).toBe(true);
    const transfer = built.instructions.at(-1)!;
    expect(transfer.keys.map((k) => k.pubkey.toBase58())).toContain(invoice.reference);
    expect(transfer.keys.map((k) => k.pubkey.toBase58())).toContain(usdc);
    // transferChecked: tag 12, u64 amount, decimals.
    expect(transfer.data[0]).toBe(12);
    expect(transfer.data.readBigUInt64LE(1)).toBe(2_000_000n);
  });

  it('refuses bad input with specific errors', async () => {
    const invoice = await subscribe('SOL');
    expect((await tx(invoice.reference, 'not-an-address')).json()).toMatchObject({ error: 'bad_account' });
    const unknown = await tx('11111111111111111111111111111111', sol.newWallet().publicKey.toBase58());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'invoice_not_found' });
    expect((await tx(String(invoice.id), sol.newWallet().publicKey.toBase58())).statusCode).toBe(404);
    expect((await events(String(invoice.id))).statusCode).toBe(404);

    await t.db.updateTable('billing_invoices').set({ rate_locked_until: new Date(Date.now() - 1000) }).where('id', '=', invoice.id).execute();
    const expired = await tx(invoice.reference, sol.newWallet().publicKey.toBase58());
    expect(expired.statusCode).toBe(410);
    expect(expired.json()).toMatchObject({ error: 'invoice_expired' });
  });

  it('streams a paid invoice as one status event and ends', async () => {
    const invoice = await subscribe('SOL');
    await t.db.transaction().execute((trx) => ctx.services.billing.applyPayment(trx, invoice.id, { source: 'chain', amount: 1_000_000_000n, signature: 'sig-stream'.padEnd(64, 'x') }));
    const res = await events(invoice.reference);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const frames = res.body.split('\n\n').filter((f) => f.startsWith('event: status'));
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!.split('data: ')[1]!)).toMatchObject({ state: 'paid', paid: '1000000000', due: '0', paidText: '1 SOL', dueText: '0 SOL' });
    expect((await tx(invoice.reference, sol.newWallet().publicKey.toBase58())).json()).toMatchObject({ error: 'invoice_paid' });
  });

  it('caps open status streams per client address: the next one is 429 JSON, and a closed stream frees its slot', async () => {
    const invoice = await subscribe('SOL');
    const open = (remoteAddress: string) => http.inject({ method: 'GET', url: `/pay/${invoice.reference}/events`, remoteAddress, payloadAsStream: true });
    // Headers arrive at once (payloadAsStream); each stream stays open while the invoice is pending.
    const held = [];
    for (let i = 0; i < EVENTS_STREAMS_PER_CLIENT; i++) held.push(await open('198.51.100.7'));
    expect(held.map((r) => r.statusCode)).toEqual(Array(EVENTS_STREAMS_PER_CLIENT).fill(200));

    const refused = await http.inject({ method: 'GET', url: `/pay/${invoice.reference}/events`, remoteAddress: '198.51.100.7' });
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: 'rate_limited', message: expect.stringContaining(`at most ${EVENTS_STREAMS_PER_CLIENT}`) });
    // Another address is not affected.
    const other = await open('198.51.100.8');
    expect(other.statusCode).toBe(200);

    // Paying ends every stream (their next poll sees it); the slots are free again.
    await t.db.transaction().execute((trx) => ctx.services.billing.applyPayment(trx, invoice.id, { source: 'chain', amount: 1_000_000_000n, signature: 'sig-cap'.padEnd(64, 'x') }));
    for (const r of [...held, other]) {
      const body = Buffer.concat(await r.stream().toArray()).toString();
      expect(body).toContain('"state":"paid"');
    }
    const again = await http.inject({ method: 'GET', url: `/pay/${invoice.reference}/events`, remoteAddress: '198.51.100.7' });
    expect(again.statusCode).toBe(200);
    // A refused reference (404) never takes a slot either.
    for (let i = 0; i <= EVENTS_STREAMS_PER_CLIENT; i++)
      expect((await http.inject({ method: 'GET', url: '/pay/11111111111111111111111111111111/events', remoteAddress: '198.51.100.9' })).statusCode).toBe(404);
  });
});
