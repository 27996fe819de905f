import bs58 from 'bs58';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import nacl from 'tweetnacl';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { walletRoutes } from './wallets.routes';

// Headless Chromium from the Debian package (`npm test` installs it when missing and it can). Without it the
// file skips on a developer's machine, but never under CI.
const CHROMIUM = '/usr/bin/chromium';
const runBrowser = existsSync(CHROMIUM) || Boolean(process.env.CI);
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let t: TestDatabase;
let ctx: AppContext;
let http: FastifyInstance;
let baseUrl: string;
let browser: Browser;

describe.skipIf(!runBrowser)('wallet-link page in headless Chromium', () => {
  beforeAll(async () => {
    t = await createTestDatabase();
    const base = createTestContext(t);
    http = await createHttpServer({ ctx: base, metrics: createMetrics(), plugins: [walletRoutes] });
    await http.listen({ host: '127.0.0.1', port: 0 });
    const addr = http.server.address();
    baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    // The routes read no PUBLIC_URL; the service calls below use a context that has it, as startApp builds one.
    ctx = { ...base, config: { ...base.config, PUBLIC_URL: baseUrl } };
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await http?.close();
    await t?.drop();
  });

  /**
   * A fake injected wallet (window.solana, Phantom-style API) whose signMessage is tweetnacl in node, reached through
   * page.exposeFunction: the page code under test is exactly what a user's browser runs.
   */
  async function pageWithWallet(secretKey: Uint8Array, address: string) {
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const signed: string[] = [];
    await page.exposeFunction('__testWalletSign', (messageB64: string) => {
      const message = Buffer.from(messageB64, 'base64');
      signed.push(message.toString('utf8'));
      return Buffer.from(nacl.sign.detached(message, secretKey)).toString('base64');
    });
    await page.addInitScript((addr: string) => {
      const w = globalThis as unknown as Record<string, unknown> & { __testWalletSign(b64: string): Promise<string> };
      const publicKey = { toBase58: () => addr, toString: () => addr };
      const toB64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
      const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      w.solana = {
        isTestWallet: true,
        publicKey: null as unknown,
        async connect() {
          (w.solana as { publicKey: unknown }).publicKey = publicKey;
          return { publicKey };
        },
        async signMessage(message: Uint8Array) {
          return { signature: fromB64(await w.__testWalletSign(toB64(message))), publicKey };
        },
      };
    }, address);
    return { page, problems, signed };
  }

  it('connects the injected wallet, signs the server text and the registration lands in the DB', async () => {
    const kp = nacl.sign.keyPair();
    const address = bs58.encode(kp.publicKey);
    const link = await ctx.services.wallets.createLink({ discordId: '800000000000000001', username: 'browser_user', publicUrl: baseUrl });
    const { page, problems, signed } = await pageWithWallet(kp.secretKey, address);

    const expected = (await ctx.services.wallets.messageFor(link.nonce, address)).message;
    await page.goto(link.url);
    await expect.poll(() => page.locator('#wallets button').allTextContents()).toEqual(['Sign with Solana wallet']);
    await page.click('#wallets button');
    await page.waitForSelector('#status.ok, #status.err');
    const status = await page.textContent('#status');
    expect(status).toBe(`✓ Wallet ${address} is now linked to @browser_user. You can close this page.`);
    expect(await page.textContent('#message')).toBe(signed[0]);
    expect(signed).toEqual([expected]);
    expect(await page.isVisible('#wallets')).toBe(false);
    await page.screenshot({ path: '/tmp/wallet-link.png', fullPage: true });

    const reg = await t.db
      .selectFrom('wallet_registrations')
      .innerJoin('users', 'users.id', 'wallet_registrations.user_id')
      .select(['address', 'discord_id', 'message_data'])
      .executeTakeFirstOrThrow();
    expect(reg).toMatchObject({ address, discord_id: '800000000000000001', message_data: { message: signed[0], via: 'page', envelope: 'raw' } });
    // The strict CSP did not block anything the page needs (violations are reported as console errors).
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the exact server error when the link was already used', async () => {
    const kp = nacl.sign.keyPair();
    const address = bs58.encode(kp.publicKey);
    const link = await ctx.services.wallets.createLink({ discordId: '800000000000000002', username: 'second', publicUrl: baseUrl });
    const { page, problems } = await pageWithWallet(kp.secretKey, address);
    await page.goto(link.url);
    // Used from elsewhere while the page was open.
    const { message } = await ctx.services.wallets.messageFor(link.nonce, address);
    await ctx.services.wallets.verify({ nonce: link.nonce, address, signature: bs58.encode(nacl.sign.detached(Buffer.from(message), kp.secretKey)) });
    await page.click('#wallets button');
    await page.waitForSelector('#status.err');
    expect(await page.textContent('#status')).toBe('✗ This link was already used. Run /wallet link for a new one.');
    // The failed fetch is logged by Chromium as a console error ("Failed to load resource … 410"); nothing else.
    expect(problems.filter((p) => !/status of 410/.test(p))).toEqual([]);

    const reload = await page.goto(link.url);
    expect(reload?.status()).toBe(410);
    expect(await page.textContent('h1')).toBe('Wallet link unavailable');
    await page.close();
  });
  it('works with a Wallet Standard wallet (register-wallet event, standard:connect + solana:signMessage)', async () => {
    const kp = nacl.sign.keyPair();
    const address = bs58.encode(kp.publicKey);
    const link = await ctx.services.wallets.createLink({ discordId: '800000000000000003', username: 'standard_user', publicUrl: baseUrl });
    const page = await browser.newPage();
    await page.exposeFunction('__testWalletSign', (messageB64: string) =>
      Buffer.from(nacl.sign.detached(Buffer.from(messageB64, 'base64'), kp.secretKey)).toString('base64'),
    );
    await page.addInitScript((addr: string) => {
      const g = globalThis as unknown as {
        __testWalletSign(b64: string): Promise<string>;
        addEventListener(type: string, cb: (e: { detail: { register(w: unknown): void } }) => void): void;
        dispatchEvent(e: unknown): void;
        CustomEvent: new (type: string, init: { detail: unknown }) => unknown;
      };
      const account = { address: addr, publicKey: new Uint8Array(32), chains: ['solana:mainnet'], features: ['solana:signMessage'] };
      const wallet = {
        version: '1.0.0',
        name: 'Standard Test Wallet',
        icon: 'data:image/svg+xml;base64,',
        chains: ['solana:mainnet'],
        accounts: [account],
        features: {
          'standard:connect': { version: '1.0.0', connect: async () => ({ accounts: [account] }) },
          'solana:signMessage': {
            version: '1.0.0',
            signMessage: async ({ message }: { message: Uint8Array }) => {
              const sig = await g.__testWalletSign(btoa(String.fromCharCode(...message)));
              return [{ signedMessage: message, signature: Uint8Array.from(atob(sig), (c) => c.charCodeAt(0)) }];
            },
          },
        },
      };
      // Both halves of the Wallet Standard handshake, as @wallet-standard/wallet does it.
      const callback = (api: { register(w: unknown): void }) => api.register(wallet);
      g.addEventListener('wallet-standard:app-ready', (e) => callback(e.detail));
      queueMicrotask(() => g.dispatchEvent(new g.CustomEvent('wallet-standard:register-wallet', { detail: callback })));
    }, address);
    await page.goto(link.url);
    await expect.poll(() => page.locator('#wallets button').allTextContents()).toEqual(['Sign with Standard Test Wallet']);
    await page.click('#wallets button');
    await page.waitForSelector('#status.ok, #status.err');
    expect(await page.textContent('#status')).toBe(`✓ Wallet ${address} is now linked to @standard_user. You can close this page.`);
    expect((await ctx.services.wallets.status('800000000000000003')).wallet?.address).toBe(address);
    await page.close();
  });
});
