import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { ticketAdminRoutes } from './tickets.routes';
import type { TicketPolicy } from './tickets.service';

const TOKEN = 'admin-token-for-tickets-tests-0001';
let t: TestDatabase;
let ctx: AppContext;
let http: FastifyInstance;
const ids: string[] = [];
const policy: TicketPolicy = { categories: ['general', 'billing'], maxOpenPerUser: 10, openCooldownSeconds: 0, autoCloseHours: 48, warningHours: 12 };
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t, { ADMIN_TOKEN: TOKEN });
  http = await createHttpServer({ ctx, metrics: createMetrics(), adminPlugins: [ticketAdminRoutes] });
  for (const [i, priority] of (['low', 'urgent', 'urgent', 'normal'] as const).entries()) {
    const { ticket } = await ctx.services.tickets.open(
      { opener: { discordId: `41000000000000000${i}`, username: `u${i}` }, guildId: null, category: 'billing', priority, subject: `s${i}`, description: 'd' },
      policy,
    );
    ids.push(String(ticket.id));
  }
  const sup = await ctx.services.users.ensure('520000000000000001', 'supporter');
  await ctx.services.users.setRole(sup.id, 'SUPPORT');
});
afterAll(async () => {
  await http?.close();
  await t?.drop();
});

const get = (url: string, headers: Record<string, string> = auth) => http.inject({ method: 'GET', url, headers });
const patch = (id: string, payload: unknown) => http.inject({ method: 'PATCH', url: `/admin/tickets/${id}`, headers: auth, payload: payload as object });
const row = (id: string) => t.db.selectFrom('tickets').selectAll().where('id', '=', BigInt(id)).executeTakeFirstOrThrow();

describe('GET /admin/tickets', () => {
  it('needs the bearer token', async () => {
    expect((await get('/admin/tickets', {})).statusCode).toBe(401);
  });

  it('filters and pages with a cursor', async () => {
    const urgent = await get('/admin/tickets?priority=urgent&status=open&limit=1');
    expect(urgent.statusCode).toBe(200);
    const first = urgent.json<{ items: Array<{ id: string; priority: string; discordId: string }>; nextCursor: string }>();
    expect(first.items).toHaveLength(1);
    expect(first.items[0]).toMatchObject({ id: ids[2], priority: 'urgent', discordId: '410000000000000002' });
    const second = (await get(`/admin/tickets?priority=urgent&limit=1&cursor=${first.nextCursor}`)).json<{ items: Array<{ id: string }>; nextCursor: null }>();
    expect(second).toEqual({ items: [expect.objectContaining({ id: ids[1] })], nextCursor: null });
    expect((await get('/admin/tickets')).json<{ items: unknown[] }>().items).toHaveLength(4);
  });

  it('rejects bad query values with a 400 JSON error', async () => {
    for (const q of ['status=done', 'priority=asap', 'limit=0', 'limit=abc', 'cursor=-1', 'colour=red']) {
      const res = await get(`/admin/tickets?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json<{ error: string }>().error).toBe('invalid_query');
    }
  });
});

describe('PATCH /admin/tickets/:id', () => {
  it('claims for a SUPPORT user, changes priority, unclaims', async () => {
    const res = await patch(ids[0]!, { claim: '520000000000000001', priority: 'high' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: ids[0], status: 'claimed', priority: 'high', claimedBy: '520000000000000001' });
    expect((await patch(ids[0]!, { claim: null })).json()).toMatchObject({ status: 'open', claimedBy: null });
  });

  it('4xx JSON for bad input, unknown tickets and invalid transitions; nothing changes', async () => {
    const before = await row(ids[3]!);
    const cases: Array<[string, unknown, number, string]> = [
      [ids[3]!, {}, 400, 'invalid_body'],
      [ids[3]!, { status: 'pending_close' }, 400, 'invalid_body'],
      [ids[3]!, { priority: 'asap' }, 400, 'invalid_body'],
      [ids[3]!, { claim: 'bob' }, 400, 'invalid_body'],
      [ids[3]!, { owner: 'x', priority: 'low' }, 400, 'invalid_body'],
      [ids[3]!, { claim: '410000000000000000' }, 422, 'ticket_bad_claimer'],
      [ids[3]!, { priority: 'normal' }, 409, 'ticket_unchanged'],
      ['abc', { priority: 'low' }, 400, 'invalid_ticket_id'],
      ['999999', { priority: 'low' }, 404, 'ticket_not_found'],
    ];
    for (const [id, body, status, error] of cases) {
      const res = await patch(id, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json<{ error: string; message: string }>()).toMatchObject({ error, message: expect.any(String) });
    }
    expect(await row(ids[3]!)).toEqual(before);
  });

  it('closes, then refuses further changes with 409', async () => {
    const closed = await patch(ids[3]!, { status: 'closed', close_reason: 'spam' });
    expect(closed.json()).toMatchObject({ status: 'closed', closeReason: 'spam', closedBy: null });
    const again = await patch(ids[3]!, { priority: 'low' });
    expect(again.statusCode).toBe(409);
    expect(again.json<{ error: string }>().error).toBe('ticket_closed');
    expect((await get(`/admin/tickets?status=closed`)).json<{ items: Array<{ id: string }> }>().items.map((i) => i.id)).toEqual([ids[3]]);
  });
});
