import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import quotaModule from './quota.module';

const ADMIN = 'admin-token-for-quota-api-tests-0001';
let t: TestDatabase;
let ctx: AppContext;
let http: FastifyInstance;
let f: Factory;
let owner: TestUser;
let friend: TestUser;
let token: string;

const server = (c: AppContext) =>
  createHttpServer({ ctx: c, metrics: createMetrics(), plugins: [...quotaModule.routes!], adminPlugins: [...quotaModule.adminRoutes!] });

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t, { ADMIN_TOKEN: ADMIN, API_FREE_REQUESTS_PER_MONTH: '1000', API_BURST_PER_SECOND: '10000' });
  http = await server(ctx);
  f = new Factory(t.db);
  owner = await f.user();
  friend = await f.user();
  await f.balance(owner);
  token = (await ctx.services.quota.createClient(owner, { name: 'shop' })).token;
});
afterAll(async () => {
  await http?.close();
  await ctx?.services.quota.stop();
  await t?.drop();
});

const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });
const get = (url: string, headers: Record<string, string> = bearer(token)) => http.inject({ method: 'GET', url, headers });
const tip = (key: string | undefined, payload: unknown, headers: Record<string, string> = {}) =>
  http.inject({
    method: 'POST',
    url: '/api/v1/tips',
    headers: { ...bearer(token), ...(key ? { 'idempotency-key': key } : {}), 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
const journalCount = async () => Number((await t.db.selectFrom('journal').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

describe('/api/v1 with a client token', () => {
  it('answers /me, /balances, /history and /quota, with RateLimit headers on metered routes', async () => {
    const me = await get('/api/v1/me');
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ discordId: owner.discordId, client: { name: 'shop', environment: 'prod' } });
    expect(me.headers['ratelimit-policy']).toMatch(/^"monthly";q=1000;w=\d+, "burst";q=10000;w=1$/);
    expect(me.headers.ratelimit).toMatch(/^"monthly";r=\d+;t=\d+$/);

    const balances = await get('/api/v1/balances');
    expect(balances.statusCode).toBe(200);
    expect(balances.json().balances).toContainEqual({ currency: 'SOL', amount: '10000000000', decimals: 9 });

    const history = await get('/api/v1/history?page=1');
    expect(history.statusCode).toBe(200);
    expect(history.json()).toMatchObject({ page: 1, total: 1, entries: [{ direction: 'in', amount: '10000000000', currency: 'SOL' }] });

    const quota = await get('/api/v1/quota');
    expect(quota.statusCode).toBe(200);
    expect(quota.headers.ratelimit).toBeUndefined();
    expect(quota.json()).toMatchObject({ total: { used: '3', allowance: '1000' } });
    expect(quota.json().methods).toEqual([
      { method: 'api.balances', used: '1', allowance: null },
      { method: 'api.history', used: '1', allowance: null },
      { method: 'api.me', used: '1', allowance: null },
    ]);
  });

  it("reputation is the badges module's tier and score; a member the bot never saw is 404 not available", async () => {
    const known = await get(`/api/v1/users/${friend.discordId}/reputation`);
    expect(known.statusCode).toBe(200);
    expect(known.json()).toMatchObject({ discordId: friend.discordId, tier: expect.any(String), score: expect.any(Number) });
    const res = await get('/api/v1/users/100000000000000999/reputation');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 404, code: 'reputation_not_available', title: 'Not Found' });
  });

  it('refuses missing, malformed, unknown, reporter and revoked tokens with 401 + WWW-Authenticate', async () => {
    const reporter = await ctx.services.quota.createReporter('node-a');
    const other = await ctx.services.quota.createClient(owner, { name: 'revoked-one' });
    await ctx.services.quota.revoke(owner, 'revoked-one', 'prod');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /Authorization: Bearer/],
      [{ authorization: 'Basic abc' }, /must be `Bearer <token>`/],
      [bearer('sb_live_short'), /Malformed token/],
      [bearer(`sb_live_${'A'.repeat(32)}`), /Unknown token/],
      [bearer(reporter.token), /reporter token/],
      [bearer(other.token), /revoked/],
    ];
    for (const [headers, detail] of cases) {
      const res = await get('/api/v1/balances', headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="solbound", error="invalid_token"/);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ type: expect.stringContaining('invalid-token'), title: 'Unauthorized', status: 401, code: 'invalid_token', detail: expect.stringMatching(detail) });
    }
  });

  it('refuses a token of another environment, and a rotated token', async () => {
    const dev = await ctx.services.quota.rotate(owner, 'shop', 'dev');
    expect(dev.token).toMatch(/^sb_test_/);
    const res = await get('/api/v1/me', bearer(dev.token));
    expect(res.statusCode).toBe(401);
    expect(res.json().detail).toMatch(/dev token; this server is the prod environment/);
    // The same token is accepted by a dev deployment.
    const devCtx = createTestContext(t, { API_ENVIRONMENT: 'dev' });
    const devHttp = await server(devCtx);
    try {
      expect((await devHttp.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(dev.token) })).statusCode).toBe(200);
    } finally {
      await devHttp.close();
      await devCtx.services.quota.stop();
    }
    const rotated = await ctx.services.quota.rotate(owner, 'shop', 'prod');
    expect((await get('/api/v1/me')).statusCode).toBe(401);
    token = rotated.token;
    expect((await get('/api/v1/me')).statusCode).toBe(200);
  });

  it('enforces allowed origins', async () => {
    const c = await ctx.services.quota.createClient(owner, { name: 'browser-app', allowedOrigins: ['https://app.example'] });
    const ok = await get('/api/v1/me', { ...bearer(c.token), origin: 'https://app.example' });
    expect(ok.statusCode).toBe(200);
    const bad = await get('/api/v1/me', { ...bearer(c.token), origin: 'https://evil.example' });
    expect(bad.statusCode).toBe(403);
    expect(bad.json()).toMatchObject({ code: 'origin_not_allowed' });
  });

  it('unknown /api/v1 routes are problem+json 404s', async () => {
    const res = await get('/api/v1/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ status: 404, code: 'not_found' });
  });
});

describe('POST /api/v1/tips', () => {
  it('tips from the owner balance; same key + same body replays, other body is 422', async () => {
    const body = { to: friend.discordId, amount: '0.25', currency: 'SOL', note: 'thanks' };
    const first = await tip('order-0001', body);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ to: friend.discordId, amount: '250000000', currency: 'SOL', replayed: false });
    const again = await tip('order-0001', body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ ...first.json(), replayed: true });
    const before = await journalCount();
    const other = await tip('order-0001', { ...body, amount: '0.5' });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'idempotency_key_reused' });
    expect(await journalCount()).toBe(before);
    expect(await ctx.services.ledger.balance(friend.discordId, 'SOL')).toBe(250_000_000n);
  });

  it('bad input: clear error, nothing moves', async () => {
    const before = await journalCount();
    const balance = await ctx.services.ledger.balance(owner.discordId, 'SOL');
    const cases: Array<[Promise<{ statusCode: number; json(): { code: string } }>, number, string]> = [
      [tip(undefined, { to: friend.discordId, amount: '1' }), 400, 'invalid_headers'],
      [tip('order-0002', '{"to": "1', {}), 400, 'malformed_json'],
      [tip('order-0003', { to: friend.discordId, amount: '1', extra: true }), 400, 'invalid_body'],
      [tip('order-0004', { to: friend.discordId, amount: '-1' }), 400, 'invalid_body'],
      [tip('order-0005', { to: '380000000000009999', amount: '1' }), 404, 'unknown_user'],
      [tip('order-0006', { to: owner.discordId, amount: '1' }), 400, 'self_tip'],
      [tip('order-0007', { to: friend.discordId, amount: '100000' }), 409, 'insufficient_funds'],
      [tip('order-0008', { to: friend.discordId, amount: '1', currency: 'DOGE' }), 404, 'unknown_currency'],
      [tip('order-0009', { to: friend.discordId, amount: '1', note: 'x'.repeat(70_000) }), 413, 'body_too_large'],
    ];
    for (const [p, status, code] of cases) {
      const res = await p;
      expect(res.statusCode, code).toBe(status);
      expect(res.json().code).toBe(code);
    }
    expect(await journalCount()).toBe(before);
    expect(await ctx.services.ledger.balance(owner.discordId, 'SOL')).toBe(balance);
    // A failed tip frees its key: fixed and retried, it goes through.
    const fixed = await tip('order-0007', { to: friend.discordId, amount: '1' });
    expect(fixed.statusCode).toBe(200);
  });
});

describe('quota enforcement', () => {
  it('429 with Retry-After and RateLimit headers once the allowance is used; a voucher allows again', async () => {
    const member = await f.user();
    const tight = createTestContext(t, { API_FREE_REQUESTS_PER_MONTH: '3', API_BURST_PER_SECOND: '10000' });
    const h = await server(tight);
    try {
      const { token: tok } = await tight.services.quota.createClient(member, { name: 'small' });
      const call = () => h.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(tok) });
      for (let i = 0; i < 3; i++) expect((await call()).statusCode).toBe(200);
      const over = await call();
      expect(over.statusCode).toBe(429);
      expect(over.json()).toMatchObject({ code: 'quota_exceeded' });
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect(over.headers.ratelimit).toMatch(/^"monthly";r=0;t=\d+$/);
      expect(over.headers['ratelimit-policy']).toMatch(/"monthly";q=3;/);

      const bundle = await tight.services.quota.createBundle({ name: 'me-10', requests: 10n, method: 'api.me' });
      const pkg = await tight.services.quota.createPackage({ name: 'me-pack', bundles: [{ bundleId: bundle.id }] });
      await tight.services.quota.createVoucher({ code: 'MORE-ME', packageId: pkg.id, uses: 1, validUntil: new Date(Date.now() + 86_400_000) });
      await tight.services.quota.redeem(member, 'more-me');
      const allowed = await call();
      expect(allowed.statusCode).toBe(200);
      expect(allowed.headers['ratelimit-policy']).toMatch(/"monthly";q=13;/);
      // api.me's usage now comes out of its own bundle first, which frees the general allowance for other methods;
      // the bundle itself is for api.me only.
      const balances = () => h.inject({ method: 'GET', url: '/api/v1/balances', headers: bearer(tok) });
      for (let i = 0; i < 3; i++) expect((await balances()).statusCode).toBe(200);
      expect((await balances()).statusCode).toBe(429);
      for (let i = 0; i < 6; i++) expect((await call()).statusCode).toBe(200);
      expect((await call()).statusCode).toBe(429);
    } finally {
      await h.close();
      await tight.services.quota.stop();
    }
  });

  it('a short burst limit per token (429, Retry-After: 1)', async () => {
    const member = await f.user();
    const bursty = createTestContext(t, { API_BURST_PER_SECOND: '2' });
    const h = await server(bursty);
    try {
      const { token: tok } = await bursty.services.quota.createClient(member, { name: 'bursty' });
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await h.inject({ method: 'GET', url: '/api/v1/quota', headers: bearer(tok) })).statusCode);
      expect(codes.slice(0, 2)).toEqual([200, 200]);
      expect(codes).toContain(429);
    } finally {
      await h.close();
      await bursty.services.quota.stop();
    }
  });
});

describe('POST /api/v1/usage-reports', () => {
  it('counts reports once per report id; refuses other reporters, client tokens and reused ids', async () => {
    const q = ctx.services.quota;
    const a = await q.createReporter('node-b');
    const b = await q.createReporter('node-c');
    const [client] = (await q.listClients(owner)).filter((c) => c.name === 'shop');
    await q.adminUpdateClient(client!.id, { reporterId: a.reporter.id });
    const envId = String(client!.environments.find((e) => e.environment === 'prod')!.id);
    const report = (tok: string, body: object) => http.inject({ method: 'POST', url: '/api/v1/usage-reports', headers: bearer(tok), payload: body });
    const body = { reportId: 'r-1', environmentId: envId, method: 'rpc.getBalance', segments: 7 };

    const first = await report(a.token, body);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ accepted: true, replayed: false });
    expect((await report(a.token, body)).json()).toMatchObject({ replayed: true });
    expect((await report(a.token, { ...body, segments: 8 })).json()).toMatchObject({ code: 'report_id_reused' });
    expect((await report(b.token, { ...body, reportId: 'r-2' })).json()).toMatchObject({ status: 403, code: 'report_forbidden' });
    const asClient = await report(token, body);
    expect(asClient.statusCode).toBe(401);
    expect(asClient.json().detail).toMatch(/client token/);
    expect((await report(a.token, { ...body, segments: 0 })).statusCode).toBe(400);

    const status = await q.status(owner);
    expect(status!.used.get('rpc.getBalance')).toBe(7n);
    const rows = await t.db.selectFrom('quota_usage_reports').selectAll().execute();
    expect(rows).toHaveLength(1);
  });
});
