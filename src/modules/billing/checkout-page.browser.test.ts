import bs58 from 'bs58';
import { Connection, Keypair, Transaction } from '@solana/web3.js';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { checkoutRoutes } from './checkout.routes';
import { InvoiceWatcher, type InvoicePaymentEvent } from './invoice-watch';

// Headless Chromium from the Debian package, like the wallet-link page's test (scripts/ensure-chromium.sh).
const CHROMIUM = '/usr/bin/chromium';
const runBrowser = existsSync(CHROMIUM) || Boolean(process.env.CI);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const SOL = 1_000_000_000n;
const GUILD = '940000000000000001';
// Staff-written text: markup and a right-to-left override must reach the page as text.
const HOSTILE_NAME = 'Gold <img src=x onerror=alert(1)> \u202Eevil';

let t: TestDatabase;
let sol: SolanaEmulator;
let ctx: AppContext;
let http: FastifyInstance;
let baseUrl: string;
let browser: Browser;
let treasury: string;
const dms: InvoicePaymentEvent[] = [];

describe.skipIf(!runBrowser)('checkout page in headless Chromium', () => {
  beforeAll(async () => {
    [t, sol] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
    const gen = generateTreasury();
    treasury = gen.treasury.publicKey;
    ctx = createTestContext(
      t,
      { SOLANA_RPC_URL: sol.rpcUrl, SOLANA_WS_URL: sol.wsUrl, TREASURY_SECRET_KEY: gen.secretJson, SOLANA_CLUSTER: 'localnet' },
      { billingPayments: async (e) => void dms.push(e) },
    );
    await ctx.services.billing.catalog.createPlan(
      { discordId: '940000000000000002', via: 'discord' },
      { guildId: GUILD, code: 'gold', name: HOSTILE_NAME, description: '<b>bold</b> & "quoted"', roleId: '940000000000000003', prices: [{ cycle: 'month', price: '1.5', currency: 'SOL' }] },
    );
    http = await createHttpServer({ ctx, metrics: createMetrics(), plugins: [checkoutRoutes] });
    await http.listen({ host: '127.0.0.1', port: 0 });
    const addr = http.server.address();
    baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await http?.close();
    expect(sol?.failures).toEqual([]);
    await sol?.close();
    await t?.drop();
  });

  /**
   * A Wallet Standard wallet (standard:connect + solana:signAndSendTransaction) whose key lives in node: the page
   * hands it the server-built transaction bytes, node signs them and sends them to the Solana emulator.
   */
  async function pageWithWallet(payer: Keypair) {
    const page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const sent: { signature: string; chain: string; tx: Transaction }[] = [];
    const connection = new Connection(sol.rpcUrl, 'confirmed');
    await page.exposeFunction('__testWalletSend', async (txB64: string, chain: string) => {
      const tx = Transaction.from(Buffer.from(txB64, 'base64'));
      tx.partialSign(payer);
      const signature = await connection.sendRawTransaction(tx.serialize());
      sent.push({ signature, chain, tx });
      return Buffer.from(bs58.decode(signature)).toString('base64');
    });
    await page.addInitScript((addr: string) => {
      const g = globalThis as unknown as {
        __testWalletSend(b64: string, chain: string): Promise<string>;
        addEventListener(type: string, cb: (e: { detail: { register(w: unknown): void } }) => void): void;
        dispatchEvent(e: unknown): void;
        CustomEvent: new (type: string, init: { detail: unknown }) => unknown;
      };
      const account = { address: addr, publicKey: new Uint8Array(32), chains: ['solana:localnet'], features: ['solana:signAndSendTransaction'] };
      const wallet = {
        version: '1.0.0',
        name: 'Pay Test Wallet',
        icon: 'data:image/svg+xml;base64,',
        chains: ['solana:localnet'],
        accounts: [account],
        features: {
          'standard:connect': { version: '1.0.0', connect: async () => ({ accounts: [account] }) },
          'solana:signAndSendTransaction': {
            version: '1.0.0',
            supportedTransactionVersions: ['legacy'],
            signAndSendTransaction: async (...inputs: { transaction: Uint8Array; chain: string }[]) =>
              Promise.all(
                inputs.map(async ({ transaction, chain }) => {
                  const sig = await g.__testWalletSend(btoa(String.fromCharCode(...transaction)), chain);
                  return { signature: Uint8Array.from(atob(sig), (c) => c.charCodeAt(0)) };
                }),
              ),
          },
        },
      };
      const callback = (api: { register(w: unknown): void }) => api.register(wallet);
      g.addEventListener('wallet-standard:app-ready', (e) => callback(e.detail));
      queueMicrotask(() => g.dispatchEvent(new g.CustomEvent('wallet-standard:register-wallet', { detail: callback })));
    }, payer.publicKey.toBase58());
    return { page, problems, sent };
  }

  it('pays an invoice with the injected wallet; the live status flips to paid and the subscription is active', async () => {
    const member = { discordId: '940000000000000010', username: 'payer' };
    const { invoice } = await ctx.services.billing.subscribe({ interactionId: 'browser-1', guildId: GUILD, user: member, plan: 'gold', cycle: 'month' });
    const payer = sol.newWallet(5n * SOL);
    const { page, problems, sent } = await pageWithWallet(payer);

    const res = await page.goto(`${baseUrl}/pay/${invoice.reference}`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
    // The hostile plan name is text, not markup.
    expect(await page.textContent('h1')).toBe('Gold <img src=x onerror=alert(1)> evil');
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.textContent('.sub')).toBe('<b>bold</b> & "quoted"');
    expect(await page.textContent('#amount')).toBe('1.5 SOL');
    expect(await page.textContent('#number')).toBe(invoice.number);
    expect(await page.getAttribute('#solana-pay', 'href')).toContain(`reference=${invoice.reference}`);
    expect(await page.locator('#qr').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await expect.poll(() => page.textContent('#countdown')).toMatch(/^\d{2}m \d{2}s$/);
    await page.waitForSelector('#progress[data-state="pending"]');

    await expect.poll(() => page.locator('#wallets button').allTextContents()).toEqual(['Pay with Pay Test Wallet']);
    await page.click('#wallets button');
    await page.waitForSelector('#status.ok, #status.err');
    expect(await page.textContent('#status')).toMatch(/^Payment sent \(\w+\)/);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.chain).toBe('solana:localnet');
    // The server-built transaction: the payer pays the fee, the reference rides along read-only.
    const keys = sent[0]!.tx.compileMessage().accountKeys.map((k) => k.toBase58());
    expect(keys[0]).toBe(payer.publicKey.toBase58());
    expect(keys).toContain(invoice.reference);
    expect(keys).toContain(treasury);
    expect(await page.textContent('#status')).toContain(sent[0]!.signature);

    // The invoice-watch job's pass picks the payment up; the open page hears it over SSE.
    expect(await new InvoiceWatcher(ctx.db, ctx.services.chain, { notify: ctx.effects.billingPayments }).run()).toMatchObject({ paid: 1 });
    await page.waitForSelector('#progress[data-state="paid"]');
    expect(await page.textContent('#progress')).toBe('✓ Paid. Your membership is active — you can close this page.');
    expect(await page.isVisible('#pay')).toBe(false);
    expect(await page.textContent('#due')).toBe('0 SOL');
    await page.screenshot({ path: '/tmp/checkout-paid.png', fullPage: true });

    const paid = await ctx.services.billing.invoice(invoice.id);
    expect(paid).toMatchObject({ status: 'PAID', paid_amount: 1_500_000_000n });
    const sub = await ctx.services.billing.subscription(paid!.subscription_id!);
    expect(sub).toMatchObject({ status: 'ACTIVE', plan_id: invoice.plan_id });
    expect(sol.balance(treasury)).toBe(1_500_000_000n);
    expect(dms).toMatchObject([{ outcome: 'paid', invoiceNumber: invoice.number }]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a partial payment live, then expiry; the wallet button goes away', async () => {
    const member = { discordId: '940000000000000011', username: 'partial' };
    const { invoice } = await ctx.services.billing.subscribe({ interactionId: 'browser-2', guildId: GUILD, user: member, plan: 'gold', cycle: 'month' });
    const { page, problems } = await pageWithWallet(sol.newWallet());
    await page.goto(`${baseUrl}/pay/${invoice.reference}`);
    await page.waitForSelector('#progress[data-state="pending"]');

    await sol.transferSol(sol.newWallet(), treasury, 500_000_000n, { reference: invoice.reference });
    expect(await new InvoiceWatcher(ctx.db, ctx.services.chain).run()).toMatchObject({ partial: 1 });
    await page.waitForSelector('#progress[data-state="partially_paid"]');
    expect(await page.textContent('#progress')).toBe('Partially paid: 0.5 SOL received, 1 SOL still due.');
    expect(await page.textContent('#due')).toBe('1 SOL');

    await t.db.updateTable('billing_invoices').set({ rate_locked_until: new Date(Date.now() - 1000) }).where('id', '=', invoice.id).execute();
    await page.waitForSelector('#progress[data-state="expired"]');
    expect(await page.isVisible('#pay')).toBe(false);
    expect(await page.textContent('#countdown')).toBe('expired');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('answers an unknown or sequential invoice id with the error page, revealing nothing', async () => {
    const page = await browser.newPage();
    for (const key of ['1', '2', Keypair.generate().publicKey.toBase58(), '%3Cscript%3E']) {
      const res = await page.goto(`${baseUrl}/pay/${key}`);
      expect(res?.status()).toBe(404);
      expect(await page.textContent('h1')).toBe('Invoice unavailable');
    }
    await page.close();
  });
});
