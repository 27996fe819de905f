import bs58 from 'bs58';
import type { FastifyInstance } from 'fastify';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { walletRoutes } from './wallets.routes';

const PUBLIC_URL = 'https://solbound.example.org';
let t: TestDatabase;
let ctx: AppContext;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t, { PUBLIC_URL });
  app = await createHttpServer({ ctx, metrics: createMetrics(), plugins: [walletRoutes] });
});
afterAll(async () => {
  await app.close();
  await t.drop();
});

let seq = 0;
let ipSeq = 0;
const nextIp = () => `192.0.2.${++ipSeq}`;

async function openLink() {
  seq++;
  const user = { discordId: `6000000000000000${String(seq).padStart(2, '0')}`, username: `web${seq}` };
  const link = await ctx.services.wallets.createLink({ ...user, publicUrl: PUBLIC_URL });
  const kp = nacl.sign.keyPair();
  return { user, link, kp, address: bs58.encode(kp.publicKey) };
}

async function fetchMessage(nonce: string, address: string, remoteAddress = nextIp()) {
  return app.inject({ method: 'GET', url: '/api/wallet/message', query: { nonce, address }, remoteAddress });
}

const post = (payload: unknown, remoteAddress = nextIp()) =>
  app.inject({ method: 'POST', url: '/api/wallet/verify', payload: payload as Record<string, unknown>, remoteAddress });

const countRegistrations = async () =>
  Number((await t.db.selectFrom('wallet_registrations').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow()).n);

describe('GET /link/:nonce', () => {
  it('serves a self-contained page under a strict CSP', async () => {
    const { link, user } = await openLink();
    const res = await app.inject(`/link/${link.nonce}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toMatch(/^default-src 'none'; script-src 'nonce-[A-Za-z0-9+/=]+'; style-src 'nonce-[A-Za-z0-9+/=]+'; connect-src 'self';/);
    expect(csp).not.toContain('unsafe');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toContain(`Link a Solana wallet to @${user.username}`);
    expect(res.body).toContain(link.nonce);
    // No external resources at all.
    expect(res.body).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    const cspNonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    expect(res.body.match(/<script nonce="([^"]+)"/)?.[1]).toBe(cspNonce);
  });

  it('an unknown, used or expired nonce gets the error page with the reason', async () => {
    const unknown = await app.inject('/link/1111111111111111111111');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toContain('Unknown link. Run /wallet link to get a new one.');
    const html = await app.inject('/link/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(html.statusCode).toBe(404);
    expect(html.body).not.toContain('<script>alert(1)');
  });
});

describe('GET /api/wallet/message', () => {
  it('returns the exact server-built text for that nonce and address', async () => {
    const { link, address, user } = await openLink();
    const res = await fetchMessage(link.nonce, address);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ message: string; expiresAt: string }>();
    expect(body.message).toBe((await ctx.services.wallets.messageFor(link.nonce, address)).message);
    expect(body.message.split('\n').slice(0, 2)).toEqual(['solbound.example.org wants you to sign in with your Solana account:', address]);
    expect(body.message).toContain(`(id ${user.discordId})`);
    expect(body.expiresAt).toBe(link.expiresAt.toISOString());
  });

  it('rejects a bad address or missing parameters', async () => {
    const { link } = await openLink();
    const bad = await fetchMessage(link.nonce, 'not-base58-0OIl');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_address' });
    const missing = await app.inject('/api/wallet/message?nonce=abc');
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('address') });
  });
});

describe('POST /api/wallet/verify', () => {
  it('links the wallet with a base64 signature; the second use is 410', async () => {
    const { link, kp, address, user } = await openLink();
    const { message } = (await fetchMessage(link.nonce, address)).json<{ message: string }>();
    const signature = Buffer.from(nacl.sign.detached(Buffer.from(message), kp.secretKey)).toString('base64');
    const ok = await post({ nonce: link.nonce, address, signature });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ linked: true, address, discordId: user.discordId });
    expect((await ctx.services.wallets.status(user.discordId)).wallet?.address).toBe(address);

    const again = await post({ nonce: link.nonce, address, signature });
    expect(again.statusCode).toBe(410);
    expect(again.json()).toEqual({ error: 'nonce_used', message: 'This link was already used. Run /wallet link for a new one.' });
  });

  it('ignores a client-sent message: only a signature over the server text counts', async () => {
    const { link, kp, address } = await openLink();
    const forged = 'I agree to anything';
    const signature = bs58.encode(nacl.sign.detached(Buffer.from(forged), kp.secretKey));
    const before = await countRegistrations();
    const res = await post({ nonce: link.nonce, address, signature, message: forged });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'signature_mismatch' });
    expect(await countRegistrations()).toBe(before);
  });

  it('maps errors to statuses: unknown 404, malformed 400, taken 409', async () => {
    const a = await openLink();
    const unknown = await post({ nonce: '1111111111111111111111', address: a.address, signature: bs58.encode(new Uint8Array(64)) });
    expect([unknown.statusCode, unknown.json().error]).toEqual([404, 'nonce_unknown']);
    const malformed = await post({ nonce: a.link.nonce, address: a.address, signature: '***' });
    expect([malformed.statusCode, malformed.json().error]).toEqual([400, 'invalid_signature']);
    const missing = await post({ nonce: a.link.nonce });
    expect([missing.statusCode, missing.json().error]).toEqual([400, 'invalid_request']);

    const { message } = (await fetchMessage(a.link.nonce, a.address)).json<{ message: string }>();
    expect((await post({ nonce: a.link.nonce, address: a.address, signature: bs58.encode(nacl.sign.detached(Buffer.from(message), a.kp.secretKey)) })).statusCode).toBe(200);
    const b = await openLink();
    const { message: mb } = (await fetchMessage(b.link.nonce, a.address)).json<{ message: string }>();
    const before = await countRegistrations();
    const taken = await post({ nonce: b.link.nonce, address: a.address, signature: bs58.encode(nacl.sign.detached(Buffer.from(mb), a.kp.secretKey)) });
    expect([taken.statusCode, taken.json().error]).toEqual([409, 'address_taken']);
    expect(await countRegistrations()).toBe(before);
  });

  it('rate-limits per IP: the 6th attempt in 15 minutes is 429', async () => {
    const ip = '198.51.100.7';
    for (let i = 0; i < 5; i++) {
      const o = await openLink();
      const res = await post({ nonce: o.link.nonce, address: o.address, signature: bs58.encode(new Uint8Array(64)) }, ip);
      expect(res.statusCode).toBe(400);
    }
    const o = await openLink();
    const limited = await post({ nonce: o.link.nonce, address: o.address, signature: bs58.encode(new Uint8Array(64)) }, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/^Too many verification attempts/) });
  });
});
