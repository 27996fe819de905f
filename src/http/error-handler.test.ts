import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AppContext } from '../app-context';
import { UserError } from '../errors';
import { createMetrics } from '../metrics';
import { createTestContext } from '../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { USER_ERROR_STATUS } from './error-status';
import { snowflake } from './schemas';
import { createHttpServer, type HttpPlugin } from './server';

let t: TestDatabase;
let app: FastifyInstance;
const logLines: Array<Record<string, unknown>> = [];

/** Routes written the careless way: no try/catch, no .catch, services' errors left to escape. */
const probeRoutes: HttpPlugin = (scope, ctx) => {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const ok = { 200: z.object({ ok: z.literal(true) }) };
  api.get('/probe/ticket/:ticketId', { schema: { params: z.object({ ticketId: z.coerce.bigint() }), response: ok } }, async (req) => {
    await ctx.services.tickets.get(req.params.ticketId, null);
    return { ok: true as const };
  });
  api.get('/probe/user-error/:code', { schema: { params: z.object({ code: z.string() }), response: ok } }, async (req) => {
    await Promise.resolve();
    throw new UserError(req.params.code, `probe ${req.params.code}`);
  });
  api.post('/probe/body', { schema: { body: z.object({ amount: z.string().regex(/^\d+$/), to: snowflake }), response: ok } }, async () => ({
    ok: true as const,
  }));
  api.get('/probe/boom', { schema: { response: ok } }, () => ctx.db.selectFrom('no_such_table' as 'users').selectAll().execute().then(() => ({ ok: true as const })));
};

beforeAll(async () => {
  t = await createTestDatabase();
  const base = createTestContext(t);
  const sink = { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) };
  const ctx: AppContext = { ...base, log: pino({ level: 'info' }, sink) };
  app = await createHttpServer({ ctx, metrics: createMetrics(), plugins: [probeRoutes] });
});
afterAll(async () => {
  await app?.close();
  await t?.drop();
});

describe('the one HTTP error path', () => {
  it('a UserError escaping a route gets its mapped status and { error, message }', async () => {
    const missing = await app.inject('/probe/ticket/999999');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'ticket_not_found', message: expect.any(String) });
    for (const [code, status] of [['RATE_LIMITED', 429], ['TICKET_CLOSED', 409], ['NONCE_USED', 410], ['FORBIDDEN', 403], ['INVALID_AMOUNT', 400]] as const) {
      const res = await app.inject(`/probe/user-error/${code}`);
      expect([res.statusCode, res.json()], code).toEqual([status, { error: code.toLowerCase(), message: `probe ${code}` }]);
    }
    // Not logged as errors: the caller caused them.
    expect(logLines.filter((l) => l.level === 50)).toEqual([]);
  });

  it('every status in the table is an error status a client can act on', () => {
    for (const [code, status] of Object.entries(USER_ERROR_STATUS)) {
      expect(code, code).toMatch(/^[A-Z_]+$/);
      expect([400, 403, 404, 409, 410, 422, 429, 503], code).toContain(status);
    }
  });

  it('a body that fails its zod schema is a 400 naming every bad field, and the handler does not run', async () => {
    const res = await app.inject({ method: 'POST', url: '/probe/body', payload: { amount: '1.5', to: 'bob' } });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: string; message: string }>();
    expect(body.error).toBe('invalid_body');
    expect(body.message).toMatch(/^amount: .+; to: must be a Discord snowflake/);
    const empty = await app.inject({ method: 'POST', url: '/probe/body' });
    expect([empty.statusCode, empty.json().error]).toEqual([400, 'invalid_body']);
    const badJson = await app.inject({ method: 'POST', url: '/probe/body', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect([badJson.statusCode, badJson.json().error]).toEqual([400, 'bad_request']);
  });

  it('an unexpected failure is a 500 with a reference id, and the cause is logged under that id', async () => {
    const res = await app.inject('/probe/boom');
    expect(res.statusCode).toBe(500);
    const body = res.json<{ error: string; message: string; ref: string }>();
    expect(body).toEqual({ error: 'internal', message: `Internal error (ref ${body.ref})`, ref: expect.stringMatching(/^[0-9a-f]{8}$/) });
    expect(res.body).not.toContain('no_such_table');
    const logged = logLines.find((l) => l.ref === body.ref);
    expect(logged).toMatchObject({ level: 50, msg: 'unhandled http error', url: '/probe/boom' });
    expect(JSON.stringify(logged)).toContain('no_such_table');
  });
});
