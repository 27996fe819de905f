import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics';
import { createTestContext } from '../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { createHttpServer } from './server';

const ADMIN_TOKEN = 'a'.repeat(16) + 'correct-horse-battery';
let t: TestDatabase;
let app: FastifyInstance;
let noAdmin: FastifyInstance;

beforeAll(async () => {
  t = await createTestDatabase();
  const ctx = createTestContext(t, { ADMIN_TOKEN });
  app = await createHttpServer({ ctx, metrics: createMetrics() });
  noAdmin = await createHttpServer({ ctx: createTestContext(t), metrics: createMetrics() });
  await ctx.services.users.ensure('200000000000000001', 'alice');
});
afterAll(async () => {
  await app.close();
  await noAdmin.close();
  await t.drop();
});

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('http server', () => {
  it('/healthz and /readyz report ok on a migrated database', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
  });

  it('/metrics serves prometheus text', async () => {
    await app.inject('/healthz');
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('solbound_http_requests_total{route="/healthz",status="2xx"}');
  });

  it('admin routes need the bearer token', async () => {
    expect((await app.inject('/admin/users/200000000000000001')).statusCode).toBe(401);
    const wrong = await app.inject({ url: '/admin/users/200000000000000001', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'unauthorized' });
    const disabled = await noAdmin.inject({ url: '/admin/users/200000000000000001', headers: auth });
    expect(disabled.statusCode).toBe(503);
    expect(disabled.json()).toMatchObject({ error: 'admin_disabled' });
  });

  it('GET /admin/users/:discordId returns the user with bigint ids as strings', async () => {
    const res = await app.inject({ url: '/admin/users/200000000000000001', headers: auth });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.user).toMatchObject({ discord_id: '200000000000000001', username: 'alice', role: 'USER' });
    expect(typeof body.user.id).toBe('string');
    expect(body.credentials).toEqual({ federated: [], chain: [] });
  });

  it('bad input gets a specific 4xx JSON body', async () => {
    const bad = await app.inject({ url: '/admin/users/abc', headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'invalid_discord_id', message: expect.stringContaining('snowflake') });
    const missing = await app.inject({ url: '/admin/users/200000000000000009', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'user_not_found' });
    const nowhere = await app.inject('/nope');
    expect(nowhere.statusCode).toBe(404);
    expect(nowhere.json()).toMatchObject({ error: 'not_found' });
  });
});
