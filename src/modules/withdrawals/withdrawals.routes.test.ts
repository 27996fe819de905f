import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { withdrawalAdminRoutes } from './withdrawals.routes';

const TOKEN = 'admin-token-for-withdrawal-tests-01';
let t: TestDatabase;
let ctx: AppContext;
let http: FastifyInstance;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t, { ADMIN_TOKEN: TOKEN });
  http = await createHttpServer({ ctx, metrics: createMetrics(), adminPlugins: [withdrawalAdminRoutes] });
});
afterAll(async () => {
  await http?.close();
  await t?.drop();
});

const patch = (currency: string, payload: unknown) =>
  http.inject({ method: 'PATCH', url: `/admin/withdraw-methods/${currency}`, headers: auth, payload: payload as object });
const methods = () => t.db.selectFrom('withdraw_methods').selectAll().orderBy('currency').execute();

describe('/admin/withdraw-methods', () => {
  it('lists seeded defaults for SOL and configured tokens, in currency units', async () => {
    expect((await http.inject({ method: 'GET', url: '/admin/withdraw-methods' })).statusCode).toBe(401);
    const res = await http.inject({ method: 'GET', url: '/admin/withdraw-methods', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      items: [
        { currency: 'SOL', enabled: true, min: '0.001', max: '100', approvalThreshold: '10', fee: '0', pausedAt: null, pausedReason: null },
        { currency: 'USDC', enabled: true, min: '1', max: '10000', approvalThreshold: '1000', fee: '0', pausedAt: null, pausedReason: null },
      ],
    });
  });

  it('edits limits; bad input is a 4xx JSON error and changes nothing', async () => {
    const ok = await patch('usdc', { max: '250.5', approval_threshold: '0', fee: '0.25', enabled: false });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ currency: 'USDC', enabled: false, max: '250.5', approvalThreshold: '0', fee: '0.25' });
    const before = await methods();
    const bad = [
      [patch('USDC', {}), 400, 'invalid_body'],
      [patch('USDC', { max: '1e3' }), 400, 'invalid_amount'],
      [patch('USDC', { min: '300' }), 400, 'invalid_limits'],
      [patch('USDC', { nope: true }), 400, 'invalid_body'],
      [patch('DOGE', { max: '1' }), 404, 'unknown_currency'],
    ] as const;
    for (const [res, status, error] of bad) {
      const r = await res;
      expect(r.statusCode).toBe(status);
      expect(r.json()).toMatchObject({ error });
    }
    expect(await methods()).toEqual(before);
  });
});
