import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import type { Factory, TestUser } from '../../testing/factories';
import type { TestDatabase } from '../../testing/test-db';
import { useWebhookAdminFixture } from './testing/admin-fixture';
import { verifies } from './testing/receiver';
import { subscribe } from './testing/subscribe';

// Secret rotation with an overlap window and the replay of a time range: service and admin routes on real Postgres,
// deliveries to a real local receiver, every signature checked with the independent `standardwebhooks` package.

const TOKEN = 'admin-token-for-webhook-rotation-tests';
const auth = { authorization: `Bearer ${TOKEN}` };
const fx = useWebhookAdminFixture(TOKEN);
const receivers = fx.receivers;
let t: TestDatabase;
let ctx: AppContext;
let f: Factory;
let http: FastifyInstance;
beforeAll(() => {
  ({ t, ctx, f, http } = fx);
});

/** bob owns an API client with an endpoint on `r` for tip.received; alice has money to tip him. */
async function setup() {
  const [alice, bob] = [await f.user(), await f.user()];
  await f.balance(alice);
  const r = await receivers.start();
  const { endpoint, secret } = await subscribe(ctx, bob, r);
  return { alice, bob, r, endpoint, secret };
}
const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });
let tips = 0;
const tip = (from: TestUser, to: TestUser) =>
  ctx.services.ledger.tip({ interactionId: `rotation-tip-${++tips}`, sender: ref(from), receivers: [ref(to)], amount: '0.1', currency: 'SOL' });
const deliver = () => ctx.services.webhooks.deliverDue();
const signatures = (headers: Record<string, string>) => headers['webhook-signature']!.split(' ');
const rotate = (endpointId: bigint | number, body?: object) =>
  http.inject({ method: 'POST', url: `/admin/webhook-endpoints/${endpointId}/rotate-secret`, headers: auth, ...(body ? { payload: body } : {}) });
const endpointRow = (id: bigint) => t.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('secret rotation', () => {
  it('both secrets sign during the overlap (either verifies); after the window only the new one does', async () => {
    const { alice, bob, r, endpoint, secret: old } = await setup();
    const res = await rotate(endpoint.id);
    expect(res.statusCode, res.body).toBe(200);
    const { secret: fresh, endpoint: shown } = res.json<{ secret: string; endpoint: { previousSecretExpiresAt: string } }>();
    expect(fresh).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(fresh).not.toBe(old);
    // Default overlap: 24 h.
    const hours = (new Date(shown.previousSecretExpiresAt).getTime() - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    // Shown once: listings never carry a secret.
    const listed = await http.inject({ method: 'GET', url: `/admin/webhook-endpoints?environmentId=${endpoint.environmentId}`, headers: auth });
    expect(listed.body).not.toContain(fresh);
    expect(listed.body).not.toContain(old);
    const [audit] = await t.db.selectFrom('audit_events').selectAll().where('target', '=', `webhook_endpoint:${endpoint.id}`).execute();
    expect(audit).toMatchObject({ action: 'webhook.rotate_secret', via: 'admin-api' });

    await tip(alice, bob);
    expect(await deliver()).toMatchObject({ delivered: 1 });
    const during = r.received.at(-1)!;
    expect(signatures(during.headers)).toHaveLength(2);
    expect(signatures(during.headers).every((s) => s.startsWith('v1,'))).toBe(true);
    expect(verifies(old, during)).toBe(true);
    expect(verifies(fresh, during)).toBe(true);

    // The window ends (the database clock decides, as for every due time).
    await t.db.updateTable('webhook_endpoints').set({ previous_secret_expires_at: sql`now() - interval '1 second'` }).where('id', '=', endpoint.id).execute();
    r.secret = fresh;
    await tip(alice, bob);
    expect(await deliver()).toMatchObject({ delivered: 1 });
    const after = r.received.at(-1)!;
    expect(signatures(after.headers)).toHaveLength(1);
    expect(verifies(fresh, after)).toBe(true);
    expect(verifies(old, after)).toBe(false);
  });

  it('overlap 0 stops the old secret at once; a second rotation inside the window drops the oldest secret', async () => {
    const { alice, bob, r, endpoint, secret: first } = await setup();
    const second = (await ctx.services.webhooks.rotateSecret(endpoint.id, { overlapSeconds: 3600 })).secret;
    const third = (await ctx.services.webhooks.rotateSecret(endpoint.id, { overlapSeconds: 3600 })).secret;
    r.secret = third;
    await tip(alice, bob);
    await deliver();
    let got = r.received.at(-1)!;
    expect([verifies(third, got), verifies(second, got), verifies(first, got)]).toEqual([true, true, false]);

    const fourth = (await rotate(endpoint.id, { overlapSeconds: 0 })).json<{ secret: string }>().secret;
    expect((await endpointRow(endpoint.id)).previous_secret).toBeNull();
    r.secret = fourth;
    await tip(alice, bob);
    await deliver();
    got = r.received.at(-1)!;
    expect(signatures(got.headers)).toHaveLength(1);
    expect([verifies(fourth, got), verifies(third, got)]).toEqual([true, false]);
  });

  it('mid-flight: an attempt signed before the rotation commits still verifies with the old secret during the overlap', async () => {
    const { alice, bob, r, endpoint, secret: old } = await setup();
    let fresh = '';
    // The operator rotates while our request is on the wire (signed with the old secret only).
    r.onRequest = async () => {
      if (!fresh) fresh = (await ctx.services.webhooks.rotateSecret(endpoint.id)).secret;
    };
    await tip(alice, bob);
    expect(await deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    const inFlight = r.received[0]!;
    expect(signatures(inFlight.headers)).toHaveLength(1);
    expect(verifies(old, inFlight)).toBe(true);
    expect(verifies(fresh, inFlight)).toBe(false);
    r.onRequest = undefined;

    // The next attempt carries both.
    await tip(alice, bob);
    await deliver();
    expect([verifies(old, r.received[1]!), verifies(fresh, r.received[1]!)]).toEqual([true, true]);
  });

  it('mid-flight, receiver switched to the new secret at once: the in-flight attempt is refused, retried, then verifies (same event id)', async () => {
    const { alice, bob, r, endpoint } = await setup();
    r.onRequest = async () => {
      if (r.received.length === 1) r.secret = (await ctx.services.webhooks.rotateSecret(endpoint.id)).secret;
    };
    await tip(alice, bob);
    expect(await deliver()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    expect(r.received[0]!.verified).toBe(false);
    const [d] = await t.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpoint.id).execute();
    expect(d).toMatchObject({ status: 'pending', last_status: 401 });
    await t.db.updateTable('webhook_deliveries').set({ next_attempt_at: sql`now()` }).where('endpoint_id', '=', endpoint.id).execute();
    expect(await deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(r.received).toHaveLength(2);
    expect(new Set(r.received.map((x) => x.id))).toEqual(new Set([d!.event_id]));
    expect(signatures(r.received[1]!.headers)).toHaveLength(2);
    expect(r.received[1]!.verified).toBe(true);
  });

  it('bad input changes nothing: overlap out of range, unknown or disabled endpoint', async () => {
    const { endpoint, secret } = await setup();
    const tooLong = await rotate(endpoint.id, { overlapSeconds: 8 * 86_400 });
    expect(tooLong.statusCode).toBe(400);
    expect((await rotate(endpoint.id, { overlapSeconds: -1 })).statusCode).toBe(400);
    await expect(ctx.services.webhooks.rotateSecret(endpoint.id, { overlapSeconds: 1.5 })).rejects.toMatchObject({ code: 'ROTATION_OVERLAP_INVALID' });
    expect((await rotate(999_999)).statusCode).toBe(404);
    expect(await endpointRow(endpoint.id)).toMatchObject({ secret, previous_secret: null, secret_rotated_at: null });
    await ctx.services.webhooks.disableEndpoint(endpoint.id);
    const disabled = await rotate(endpoint.id);
    expect(disabled.statusCode).toBe(409);
    expect((await endpointRow(endpoint.id)).secret).toBe(secret);
  });
});

describe('POST /admin/webhook-deliveries/replay', () => {
  const replay = (payload: object) => http.inject({ method: 'POST', url: '/admin/webhook-deliveries/replay', headers: auth, payload });

  it('re-sends the events of a time range with their original ids; pending ones are left queued; other endpoints untouched', async () => {
    const a = await setup();
    const b = await setup();
    const before = new Date(Date.now() - 1000);
    await tip(a.alice, a.bob);
    await tip(a.alice, a.bob);
    await tip(b.alice, b.bob);
    expect(await deliver()).toMatchObject({ delivered: 3 });
    // One event outside the range (older): not replayed.
    await t.db.updateTable('webhook_events').set({ created_at: sql`now() - interval '2 days'` } as never).where('id', '=', a.r.received[0]!.id).execute();
    await tip(a.alice, a.bob); // pending, not yet sent
    const firstIds = a.r.received.map((x) => x.id);

    const res = await replay({ endpointId: String(a.endpoint.id), from: before.toISOString(), to: new Date(Date.now() + 1000).toISOString() });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ replayed: 1, alreadyPending: 1 });
    expect(await deliver()).toMatchObject({ delivered: 2 });
    expect(a.r.received.map((x) => x.id).slice(2)).toEqual(expect.arrayContaining([firstIds[1]]));
    expect(a.r.received.slice(2).every((x) => x.verified)).toBe(true);
    expect(b.r.received).toHaveLength(1);
    const [audit] = await t.db.selectFrom('audit_events').selectAll().where('action', '=', 'webhook.replay').execute();
    expect(audit).toMatchObject({ target: `webhook_endpoint:${a.endpoint.id}` });

    // Without endpointId: every active endpoint's deliveries in the range.
    const all = await replay({ from: before.toISOString(), to: new Date(Date.now() + 1000).toISOString() });
    expect(all.json()).toEqual({ replayed: 3, alreadyPending: 0 });
  });

  it('bad input: from ≥ to, over 31 days, not a timestamp, unknown field, unknown or disabled endpoint', async () => {
    const { endpoint } = await setup();
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    expect((await replay({ from: iso(now), to: iso(now) })).json()).toMatchObject({ error: 'replay_range_invalid' });
    expect((await replay({ from: iso(now - 32 * 86_400_000), to: iso(now) })).statusCode).toBe(400);
    expect((await replay({ from: 'yesterday', to: iso(now) })).statusCode).toBe(400);
    expect((await replay({ from: iso(now - 1000), to: iso(now), extra: 1 })).statusCode).toBe(400);
    expect((await replay({ endpointId: '999999', from: iso(now - 1000), to: iso(now) })).statusCode).toBe(404);
    await ctx.services.webhooks.disableEndpoint(endpoint.id);
    expect((await replay({ endpointId: String(endpoint.id), from: iso(now - 1000), to: iso(now) })).statusCode).toBe(409);
  });

  it('is documented in /openapi.json with its body schema', async () => {
    const doc = (await http.inject('/openapi.json')).json<{ paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: object } }> } }>> }>();
    const op = doc.paths['/admin/webhook-deliveries/replay']?.post;
    expect(Object.keys(op?.requestBody?.content['application/json']?.schema.properties ?? {})).toEqual(expect.arrayContaining(['endpointId', 'from', 'to']));
    expect(doc.paths['/admin/webhook-endpoints/{endpointId}/rotate-secret']?.post).toBeDefined();
  });
});
