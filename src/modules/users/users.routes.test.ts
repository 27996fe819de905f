import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { userAdminRoutes } from './users.routes';

const TOKEN = 'admin-token-for-user-route-tests-01';
let t: TestDatabase;
let ctx: AppContext;
let http: FastifyInstance;
const auth = { authorization: `Bearer ${TOKEN}` };
const ID = '300000000000000001';

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t, { ADMIN_TOKEN: TOKEN });
  http = await createHttpServer({ ctx, metrics: createMetrics(), adminPlugins: [userAdminRoutes] });
  await ctx.services.users.ensure(ID, 'mallory');
});
afterAll(async () => {
  await http?.close();
  await t?.drop();
});

const post = (url: string, payload?: object, headers: Record<string, string> = auth) => http.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });
const row = () => ctx.services.users.findByDiscordId(ID);

describe('POST /admin/users/:discordId/block|unblock', () => {
  it('blocks with a reason and unblocks; bad input is a 4xx JSON error and changes nothing', async () => {
    expect((await post(`/admin/users/${ID}/block`, { reason: 'fraud' }, {})).statusCode).toBe(401);
    const bad = [
      [`/admin/users/12/block`, { reason: 'x' }, 400, 'invalid_discord_id'],
      [`/admin/users/${ID}/block`, {}, 400, 'invalid_body'],
      [`/admin/users/${ID}/block`, { reason: '   ' }, 400, 'invalid_body'],
      [`/admin/users/${ID}/block`, { reason: 'x'.repeat(201) }, 400, 'invalid_body'],
      [`/admin/users/${ID}/block`, { reason: 'x', role: 'ADMIN' }, 400, 'invalid_body'],
      [`/admin/users/300000000000000099/block`, { reason: 'x' }, 404, 'user_not_found'],
      [`/admin/users/300000000000000099/unblock`, undefined, 404, 'user_not_found'],
    ] as const;
    for (const [url, body, status, code] of bad) {
      const res = await post(url, body);
      expect({ url, status: res.statusCode, code: res.json().error }).toEqual({ url, status, code });
    }
    expect(await row()).toMatchObject({ is_blocked: false, blocked_reason: null });

    const blocked = await post(`/admin/users/${ID}/block`, { reason: 'chargeback fraud' });
    expect(blocked.statusCode).toBe(200);
    expect(blocked.json()).toMatchObject({ discordId: ID, isBlocked: true, blockedReason: 'chargeback fraud', blockedAt: expect.any(String) });
    expect(await row()).toMatchObject({ is_blocked: true, blocked_reason: 'chargeback fraud' });

    const unblocked = await post(`/admin/users/${ID}/unblock`);
    expect(unblocked.json()).toEqual({ discordId: ID, isBlocked: false, blockedReason: null, blockedAt: null });
    expect(await row()).toMatchObject({ is_blocked: false, blocked_reason: null, blocked_at: null });
  });
});
