import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmuUser } from '../../emulators/discord';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { Factory } from '../../testing/factories';
import { startTestApp, type TestApp } from '../../testing/test-app';
import { Receivers, verifies, type Receiver } from './testing/receiver';

// `/api webhook add|list|test|rotate|remove` for a client's owner, and the owner's DM when the bot disables an
// endpoint: the real app (startApp) over the Discord emulator, deliveries to a local receiver checked with
// standardwebhooks.

let bot: TestApp;
let f: Factory;
const receivers = new Receivers();

beforeAll(async () => {
  bot = await startTestApp({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
  f = new Factory(bot.t.db);
});
afterAll(async () => {
  await receivers.stopAll();
  await bot?.close();
});
failOnEmulatorGaps(() => bot?.emu);

const receiver = () => receivers.start();
const SECRET = /whsec_[A-Za-z0-9+/]{32}/;
const run = (user: EmuUser, command: string, options: Record<string, string | number> = {}) => bot.emu.runCommand(user, command, options).reply();

/** `user` creates a client and registers `r` for tip.received; returns the endpoint number and its secret. */
async function added(user: EmuUser, r: Receiver, client: string) {
  await run(user, '/api client create', { name: client, environment: 'dev' });
  const reply = await run(user, '/api webhook add', { client, environment: 'dev', url: r.url, events: 'tip.received wallet.linked' });
  expect(reply.ephemeral).toBe(true);
  const secret = SECRET.exec(reply.content ?? '')?.[0];
  const id = /endpoint #(\d+)/.exec(reply.content ?? '')?.[1];
  expect(secret, reply.content ?? '').toBeDefined();
  r.secret = secret!;
  return { id: id!, secret: secret! };
}

async function tipTo(user: EmuUser) {
  const alice = await f.user();
  await f.balance(alice);
  await bot.ctx.services.ledger.tip({
    interactionId: `discord-webhook-tip-${user.id}-${Date.now()}`,
    sender: { discordId: alice.discordId, username: alice.username },
    receivers: [{ discordId: user.id, username: user.username }],
    amount: '0.25',
    currency: 'SOL',
  });
}

describe('/api webhook', () => {
  it('add (secret once) → list → test (signed ping) → rotate (both sign) → remove; ephemeral throughout', async () => {
    const owner = bot.emu.user('hookowner');
    const r = await receiver();
    const { id, secret } = await added(owner, r, 'shop');

    const listed = await run(owner, '/api webhook list');
    expect(listed.ephemeral).toBe(true);
    expect(listed.content).toContain(`#${id} **shop** dev → \`${r.url}\` · tip.received, wallet.linked`);
    expect(listed.content).not.toMatch(SECRET);

    const tested = await run(owner, '/api webhook test', { id });
    expect(tested.ephemeral).toBe(true);
    expect(tested.content).toMatch(new RegExp(`^✅ Endpoint #${id} answered 204 in \\d+ ms to ping \`msg_[0-9a-f]{32}\``));
    const ping = r.received.at(-1)!;
    expect(ping.verified).toBe(true);
    expect(JSON.parse(ping.body)).toMatchObject({ type: 'webhook.ping', data: { endpointId: id } });
    // A ping is not an event: nothing queued.
    expect(await bot.t.db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', BigInt(id)).execute()).toEqual([]);

    const rotated = await run(owner, '/api webhook rotate', { id, overlap_hours: 2 });
    expect(rotated.ephemeral).toBe(true);
    const fresh = SECRET.exec(rotated.content ?? '')?.[0];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(secret);
    expect(rotated.content).toContain('deliveries are signed with the old secret too');
    await run(owner, '/api webhook test', { id });
    expect([verifies(secret, r.received.at(-1)!), verifies(fresh!, r.received.at(-1)!)]).toEqual([true, true]);

    const removed = await run(owner, '/api webhook remove', { id });
    expect(removed.ephemeral).toBe(true);
    expect(removed.content).toMatch(new RegExp(`^🛑 Webhook endpoint #${id}`));
    expect(await bot.t.db.selectFrom('webhook_endpoints').select(['active', 'disabled_reason']).where('id', '=', BigInt(id)).executeTakeFirst()).toEqual({
      active: false,
      disabled_reason: 'removed by its owner',
    });
    expect((await run(owner, '/api webhook test', { id })).content).toMatch(/disabled/);
  });

  it("someone else's endpoint, an unknown client, an unknown event type, a bad URL: clear errors, nothing changes", async () => {
    const owner = bot.emu.user('hookowner2');
    const other = bot.emu.user('stranger');
    const r = await receiver();
    const { id } = await added(owner, r, 'game');
    const before = await bot.t.db.selectFrom('webhook_endpoints').selectAll().orderBy('id').execute();

    expect((await run(other, '/api webhook test', { id })).content).toMatch(new RegExp(`You have no webhook endpoint ${id}`));
    expect((await run(other, '/api webhook remove', { id })).content).toMatch(new RegExp(`You have no webhook endpoint ${id}`));
    expect((await run(other, '/api webhook rotate', { id })).content).toMatch(new RegExp(`You have no webhook endpoint ${id}`));
    expect((await run(owner, '/api webhook remove', { id: 'abc' })).content).toMatch(/not an endpoint number/);
    expect((await run(other, '/api webhook add', { client: 'game', environment: 'dev', url: r.url, events: 'tip.received' })).content).toMatch(/You have no API client "game"/);
    expect((await run(owner, '/api webhook add', { client: 'game', environment: 'dev', url: r.url, events: 'tip.sent' })).content).toMatch(/Unknown event type "tip\.sent"/);
    expect((await run(owner, '/api webhook add', { client: 'game', environment: 'dev', url: 'not a url', events: 'tip.received' })).content).toMatch(/not an absolute URL/);
    expect(r.received).toEqual([]);
    expect(await bot.t.db.selectFrom('webhook_endpoints').selectAll().orderBy('id').execute()).toEqual(before);
  });
});

describe('endpoint disabled by the bot → the owner gets a DM', () => {
  it('410 Gone disables at once; a receiver failing for days is disabled; each time one DM, pinging nobody', async () => {
    const gone = bot.emu.user('goneowner');
    const r410 = await receiver();
    r410.status = 410;
    const a = await added(gone, r410, 'gone-app');
    await tipTo(gone);
    expect(await bot.app.jobs.runNow('webhook-delivery')).toMatchObject({ status: 'ok', result: { dead: 1 } });
    await expect.poll(() => bot.emu.dms.filter((m) => m.content?.includes(`#${a.id}`)).length).toBe(1);
    const dm = bot.emu.dms.find((m) => m.content?.includes(`#${a.id}`))!;
    expect(dm.content).toContain('was disabled: receiver answered 410 Gone');
    expect(dm.content).toContain(r410.url);

    const flaky = bot.emu.user('flakyowner');
    const r503 = await receiver();
    r503.status = 503;
    const b = await added(flaky, r503, 'flaky-app');
    await tipTo(flaky);
    await bot.t.db.updateTable('webhook_endpoints').set({ failing_since: sql`now() - interval '3 days 1 minute'` }).where('id', '=', BigInt(b.id)).execute();
    expect(await bot.app.jobs.runNow('webhook-delivery')).toMatchObject({ status: 'ok', result: { dead: 1 } });
    await expect.poll(() => bot.emu.dms.filter((m) => m.content?.includes(`#${b.id}`)).length).toBe(1);
    expect(bot.emu.dms.find((m) => m.content?.includes(`#${b.id}`))!.content).toMatch(/was disabled: every attempt failed since/);

    // Every DM the bot sent went out with allowed_mentions.parse = [] (the URL is partner-written text).
    const posts = bot.emu.requests.filter((q) => q.method === 'POST' && bot.emu.dms.some((m) => q.path === `/api/v10/channels/${m.channel_id}/messages`));
    expect(posts.length).toBeGreaterThanOrEqual(2);
    for (const p of posts) expect(p.body).toMatchObject({ allowed_mentions: { parse: [] } });
    // Further runs send nothing more and no second DM.
    await bot.app.jobs.runNow('webhook-delivery');
    expect(bot.emu.dms.filter((m) => m.content?.includes(`#${a.id}`) || m.content?.includes(`#${b.id}`))).toHaveLength(2);
  });
});
