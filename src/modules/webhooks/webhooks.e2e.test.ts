import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import type { Factory, TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import type { TestDatabase } from '../../testing/test-db';
import type { Environment } from '../quota/quota.tables';
import { useWebhookAdminFixture } from './testing/admin-fixture';
import { claimDue } from './webhooks.repository';
import { RETRY_SCHEDULE_SECONDS, retryDelay } from './webhooks.service';
import type { Receiver } from './testing/receiver';
import { environmentOf as environmentFor, subscribe } from './testing/subscribe';

const TOKEN = 'admin-token-for-webhook-route-tests';
const fx = useWebhookAdminFixture(TOKEN);
let t: TestDatabase;
let ctx: AppContext;
let strict: AppContext;
let f: Factory;
let http: FastifyInstance;
const auth = { authorization: `Bearer ${TOKEN}` };

const receivers = fx.receivers;
const receiver = () => receivers.start();

beforeAll(() => {
  ({ t, ctx, f, http } = fx);
  // Another process with the production default: the SSRF guard is on.
  strict = createTestContext(t, { WEBHOOKS_ALLOW_PRIVATE: 'false' });
});
afterAll(async () => {
  await strict?.services.quota.stop();
});

const environmentOf = (owner: TestUser, environment: Environment = 'dev') => environmentFor(ctx, owner, environment);
const subscribed = (owner: TestUser, r: Receiver, eventTypes = ['tip.received']) => subscribe(ctx, owner, r, eventTypes);
const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });
let tips = 0;
const tip = (from: TestUser, to: TestUser[], amount = '0.5') =>
  ctx.services.ledger.tip({ interactionId: `webhook-tip-${++tips}`, sender: ref(from), receivers: to.map(ref), amount, currency: 'SOL', note: 'gg' });
const eventsOf = (u: TestUser) => t.db.selectFrom('webhook_events').selectAll().where('owner_user_id', '=', u.id).execute();
const deliveriesOf = (endpointId: bigint) => t.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).orderBy('id').execute();

describe('tip.received', () => {
  it('is delivered to the receiver\'s endpoint, signed so that standardwebhooks verifies it', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    const { endpoint, secret } = await subscribed(bob, r);

    await tip(alice, [bob]);
    const [event] = await eventsOf(bob);
    expect(event).toMatchObject({ type: 'tip.received' });
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 1, retried: 0, dead: 0 });

    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got).toMatchObject({ id: event!.id, verified: true });
    const body = JSON.parse(got.body) as { type: string; data: Record<string, unknown> };
    expect(body.type).toBe('tip.received');
    expect(body.data).toMatchObject({ senderDiscordId: alice.discordId, receiverDiscordId: bob.discordId, amount: '500000000', currency: 'SOL', note: 'gg' });
    expect((await deliveriesOf(endpoint.id))[0]).toMatchObject({ status: 'delivered', attempts: 1, last_status: 204 });

    // The independent verifier refuses the same request under another secret or outside its timestamp tolerance.
    const headers = { 'webhook-id': got.id, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': '' };
    const wh = new Webhook(secret);
    headers['webhook-signature'] = wh.sign(got.id, new Date(Number(headers['webhook-timestamp']) * 1000), got.body);
    expect(() => wh.verify(got.body, headers)).not.toThrow();
    expect(() => new Webhook('whsec_' + Buffer.alloc(24, 1).toString('base64')).verify(got.body, headers)).toThrow();
    const stale = new Date(Date.now() - 10 * 60 * 1000);
    expect(() => wh.verify(got.body, { ...headers, 'webhook-timestamp': String(Math.floor(stale.getTime() / 1000)), 'webhook-signature': wh.sign(got.id, stale, got.body) })).toThrow(
      /timestamp/i,
    );
  });

  it('exists iff the tip committed: a failing tip writes no event, a tip to a member without endpoint writes none', async () => {
    const [poor, rich, bob, carol] = [await f.user(), await f.user(), await f.user(), await f.user()];
    await f.balance(rich);
    const r = await receiver();
    await subscribed(bob, r);

    await expect(tip(poor, [bob], '1')).rejects.toThrow();
    expect(await eventsOf(bob)).toEqual([]);

    await tip(rich, [bob, carol], '1');
    expect(await eventsOf(bob)).toHaveLength(1);
    expect(await eventsOf(carol)).toEqual([]);
  });

  it('receiver down: retried with backoff, delivered once it is back, same event id', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    const { endpoint } = await subscribed(bob, r);
    await r.stop();

    await tip(alice, [bob]);
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    let [d] = await deliveriesOf(endpoint.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1 });
    expect(d!.last_error).toMatch(/ECONNREFUSED/);
    // First wait: 5 s ± 20 %; not due yet, so a run now sends nothing.
    const wait = (d!.next_attempt_at.getTime() - d!.last_attempt_at!.getTime()) / 1000;
    expect(wait).toBeGreaterThanOrEqual(4);
    expect(wait).toBeLessThanOrEqual(6.1);
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });

    // Receiver answers 500: still retried.
    await r.start();
    r.status = 500;
    await t.db.updateTable('webhook_deliveries').set({ next_attempt_at: sql`now()` }).where('endpoint_id', '=', endpoint.id).execute();
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    [d] = await deliveriesOf(endpoint.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 2, last_status: 500 });

    r.status = 200;
    await t.db.updateTable('webhook_deliveries').set({ next_attempt_at: sql`now()` }).where('endpoint_id', '=', endpoint.id).execute();
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    [d] = await deliveriesOf(endpoint.id);
    expect(d).toMatchObject({ status: 'delivered', attempts: 3, last_status: 200 });
    expect(new Set(r.received.map((x) => x.id))).toEqual(new Set([d!.event_id]));
    expect(r.received.every((x) => x.verified)).toBe(true);
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });
  });

  it('a redirect is not followed (a failed attempt) and a huge response body is cut at 4 KiB', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const target = await receiver();
    const hops = createServer((req, res) => {
      if (req.url === '/huge') {
        res.statusCode = 500;
        res.end('x'.repeat(1024 * 1024));
        return;
      }
      res.statusCode = 307;
      res.setHeader('location', target.url);
      res.end();
    });
    await new Promise<void>((resolve) => hops.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(hops.address() as AddressInfo).port}`;
      const environmentId = await environmentOf(bob);
      const redirect = await ctx.services.webhooks.createEndpoint({ environmentId, url: `${base}/go`, eventTypes: ['tip.received'] });
      const huge = await ctx.services.webhooks.createEndpoint({ environmentId, url: `${base}/huge`, eventTypes: ['tip.received'] });
      await tip(alice, [bob]);
      expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 2, dead: 0 });
      expect(target.received).toEqual([]);
      expect((await deliveriesOf(redirect.endpoint.id))[0]).toMatchObject({ status: 'pending', last_status: 307 });
      const [h] = await deliveriesOf(huge.endpoint.id);
      expect(h).toMatchObject({ status: 'pending', last_status: 500 });
      expect(h!.last_response!.length).toBe(4096);
    } finally {
      await new Promise<void>((resolve) => hops.close(() => resolve()));
    }
  });

  it('410 Gone disables the endpoint and drops what was queued for it', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    r.status = 410;
    const { endpoint } = await subscribed(bob, r);
    await tip(alice, [bob]);
    await tip(alice, [bob]);
    const result = await ctx.services.webhooks.deliverDue();
    expect(result.dead).toBe(2);
    expect((await ctx.services.webhooks.listEndpoints({ limit: 100 })).find((e) => e.id === endpoint.id)).toMatchObject({
      active: false,
      disabledReason: 'receiver answered 410 Gone',
    });
    await tip(alice, [bob]);
    expect(await eventsOf(bob)).toHaveLength(2);
  });

  it('the retry schedule spans about three days, then the delivery is dead', () => {
    const total = RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0);
    expect(total / 86_400).toBeGreaterThan(3);
    expect(total / 86_400).toBeLessThan(3.5);
    expect(retryDelay(1, () => 0)).toBe(4);
    expect(retryDelay(1, () => 1)).toBe(6);
    expect(retryDelay(RETRY_SCHEDULE_SECONDS.length + 1)).toBeUndefined();
  });
});

describe('delivery runners', () => {
  it('two processes running at once send each delivery exactly once', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    await subscribed(bob, r);
    for (let i = 0; i < 6; i++) await tip(alice, [bob], '0.1');
    const other = createTestContext(t, { WEBHOOKS_ALLOW_PRIVATE: 'true' });
    const runs = await Promise.all([ctx.services.webhooks.deliverDue(), other.services.webhooks.deliverDue()]);
    await other.services.quota.stop();
    expect(runs[0].delivered + runs[1].delivered).toBe(6);
    expect(r.received).toHaveLength(6);
    expect(new Set(r.received.map((x) => x.id)).size).toBe(6);
  });

  it('a backlog bigger than one batch drains in one run (claims prefetched, successes written in batches)', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    const { endpoint } = await subscribed(bob, r);
    for (let i = 0; i < 120; i++) await tip(alice, [bob], '0.01');
    expect(await ctx.services.webhooks.deliverDue({ batch: 50 })).toEqual({ delivered: 120, retried: 0, dead: 0 });
    expect(new Set(r.received.map((x) => x.id)).size).toBe(120);
    const states = await t.db.selectFrom('webhook_deliveries').select(['status', 'attempts', 'last_status']).where('endpoint_id', '=', endpoint.id).execute();
    expect(states.every((d) => d.status === 'delivered' && d.attempts === 1 && d.last_status === 204)).toBe(true);
  });

  it('a runner dying mid-attempt: the delivery is due again when its lease ends, with the same event id', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    const { endpoint } = await subscribed(bob, r);
    await tip(alice, [bob]);
    // The claim commits, then the process "dies" before sending: nothing else takes it while leased.
    expect(await claimDue(t.db, 10, 60)).toHaveLength(1);
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    await t.db.updateTable('webhook_deliveries').set({ leased_until: sql`now()` }).where('endpoint_id', '=', endpoint.id).execute();
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    const [d] = await deliveriesOf(endpoint.id);
    expect(d).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(r.received.map((x) => x.id)).toEqual([d!.event_id]);
  });

  it('an endpoint failing for three days is disabled', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    r.status = 503;
    const { endpoint } = await subscribed(bob, r);
    await tip(alice, [bob]);
    await t.db.updateTable('webhook_endpoints').set({ failing_since: sql`now() - interval '3 days 1 minute'` }).where('id', '=', endpoint.id).execute();
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 0, dead: 1 });
    const [e] = await ctx.services.webhooks.listEndpoints({ environmentId: endpoint.environmentId, limit: 1 });
    expect(e).toMatchObject({ active: false, disabledReason: expect.stringMatching(/^every attempt failed since/) });
    expect((await deliveriesOf(endpoint.id))[0]).toMatchObject({ status: 'dead' });
  });
});

describe('wallet.linked', () => {
  it('is written with the wallet link and delivered', async () => {
    const bob = await f.user();
    const r = await receiver();
    await subscribed(bob, r, ['wallet.linked']);
    const link = await f.wallet(bob);
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    const body = JSON.parse(r.received[0]!.body) as { type: string; data: Record<string, unknown> };
    expect(r.received[0]!.verified).toBe(true);
    expect(body).toMatchObject({ type: 'wallet.linked', data: { discordId: bob.discordId, address: link.address } });
  });
});

describe('SSRF guard', () => {
  it('refuses loopback, private, link-local and metadata URLs at registration', async () => {
    const environmentId = await environmentOf(await f.user());
    for (const url of ['http://127.0.0.1:8080/x', 'http://localhost/x', 'http://10.1.2.3/x', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/x', 'http://[::ffff:192.168.0.1]/x'])
      await expect(strict.services.webhooks.createEndpoint({ environmentId, url, eventTypes: ['tip.received'] }), url).rejects.toMatchObject({ code: 'WEBHOOK_URL_PRIVATE' });
    expect(await strict.services.webhooks.listEndpoints({ environmentId, limit: 10 })).toEqual([]);
  });

  it('refuses at delivery too (after DNS): the receiver never sees the request', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    const { endpoint } = await subscribed(bob, r);
    await tip(alice, [bob]);
    expect(await strict.services.webhooks.deliverDue()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    expect(r.received).toEqual([]);
    expect((await deliveriesOf(endpoint.id))[0]!.last_error).toMatch(/127\.0\.0\.1.*private/);
  });
});

describe('bad input changes nothing', () => {
  it('invalid URL, non-HTTPS in production, credentials, unknown event type, unknown environment', async () => {
    const owner = await f.user();
    const dev = await environmentOf(owner);
    const prod = await environmentOf(owner, 'prod');
    const w = ctx.services.webhooks;
    await expect(w.createEndpoint({ environmentId: dev, url: 'not a url', eventTypes: ['tip.received'] })).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
    await expect(w.createEndpoint({ environmentId: dev, url: 'ftp://example.com/x', eventTypes: ['tip.received'] })).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
    await expect(w.createEndpoint({ environmentId: dev, url: 'https://u:p@example.com/x', eventTypes: ['tip.received'] })).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
    await expect(w.createEndpoint({ environmentId: prod, url: 'http://example.com/x', eventTypes: ['tip.received'] })).rejects.toMatchObject({
      code: 'WEBHOOK_URL_INVALID',
      message: expect.stringMatching(/https/),
    });
    await expect(w.createEndpoint({ environmentId: dev, url: 'https://example.com/x', eventTypes: ['tip.received', 'tip.sent'] })).rejects.toMatchObject({
      code: 'WEBHOOK_EVENT_UNKNOWN',
      message: expect.stringMatching(/"tip\.sent"/),
    });
    await expect(w.createEndpoint({ environmentId: 999_999n, url: 'https://example.com/x', eventTypes: ['tip.received'] })).rejects.toMatchObject({ code: 'ENVIRONMENT_NOT_FOUND' });
    expect(await t.db.selectFrom('webhook_endpoints').select('id').where('environment_id', 'in', [dev, prod]).execute()).toEqual([]);
  });
});

describe('admin routes', () => {
  it('create (secret once), list, retry a delivery, disable; clear errors', async () => {
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receiver();
    const environmentId = await environmentOf(bob);
    const created = await http.inject({ method: 'POST', url: '/admin/webhook-endpoints', headers: auth, payload: { environmentId: String(environmentId), url: r.url, eventTypes: ['tip.received'] } });
    expect(created.statusCode).toBe(200);
    const { endpoint, secret } = created.json<{ endpoint: { id: string }; secret: string }>();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    r.secret = secret;
    const listed = await http.inject({ method: 'GET', url: `/admin/webhook-endpoints?environmentId=${environmentId}`, headers: auth });
    expect(listed.json()).toMatchObject({ items: [{ id: endpoint.id, url: r.url, active: true }] });
    expect(listed.body).not.toContain(secret);

    await tip(alice, [bob]);
    await ctx.services.webhooks.deliverDue();
    const deliveries = await http.inject({ method: 'GET', url: `/admin/webhook-deliveries?endpointId=${endpoint.id}`, headers: auth });
    const [d] = deliveries.json<{ items: { id: string; status: string }[] }>().items;
    expect(d).toMatchObject({ status: 'delivered' });
    const retried = await http.inject({ method: 'POST', url: `/admin/webhook-deliveries/${d!.id}/retry`, headers: auth, payload: { operator: alice.discordId } });
    expect(retried.json()).toMatchObject({ id: d!.id, status: 'pending', attempts: 0 });
    // Operator actions: exactly one audit row each, written in the action's transaction.
    expect(await t.db.selectFrom('audit_events').selectAll().where('target', '=', `webhook_delivery:${d!.id}`).execute()).toEqual([
      expect.objectContaining({ action: 'webhook.retry', via: 'admin-api', actor_discord_id: alice.discordId, guild_id: null, after: { endpointId: endpoint.id, eventId: r.received[0]!.id } }),
    ]);
    await ctx.services.webhooks.deliverDue();
    expect(r.received.map((x) => x.id)).toEqual([r.received[0]!.id, r.received[0]!.id]);

    const bad = await http.inject({ method: 'POST', url: '/admin/webhook-endpoints', headers: auth, payload: { environmentId: String(environmentId), url: r.url, eventTypes: ['nope'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('webhook_event_unknown');
    expect((await http.inject({ method: 'POST', url: '/admin/webhook-deliveries/999999/retry', headers: auth })).statusCode).toBe(404);

    const disabled = await http.inject({ method: 'POST', url: `/admin/webhook-endpoints/${endpoint.id}/disable`, headers: auth });
    expect(disabled.json()).toMatchObject({ active: false, disabledReason: 'disabled by an operator' });
    expect((await http.inject({ method: 'POST', url: `/admin/webhook-endpoints/${endpoint.id}/disable`, headers: auth })).statusCode).toBe(409);
    expect((await http.inject({ method: 'POST', url: `/admin/webhook-deliveries/${d!.id}/retry`, headers: auth })).statusCode).toBe(409);
    // The refused second disable and retry wrote nothing: one row per action that happened.
    const audit = await t.db.selectFrom('audit_events').selectAll().where('target', 'in', [`webhook_endpoint:${endpoint.id}`, `webhook_delivery:${d!.id}`]).orderBy('id').execute();
    expect(audit.map((a) => a.action)).toEqual(['webhook.retry', 'webhook.disable']);
    expect(audit[1]).toMatchObject({ actor_discord_id: null, via: 'admin-api', before: { active: true }, after: { active: false, deadDeliveries: 0 }, reason: 'disabled by an operator' });
  });
});
