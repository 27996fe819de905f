import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { CrashHarness, type CrashWorker } from '../../testing/crash-harness';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { Receiver } from './testing/receiver';
import { subscribe } from './testing/subscribe';

/*
 * "Killed between the change and the delivery → delivered after restart, exactly one event id", with real process
 * deaths (src/testing/crash-harness.ts, as withdrawals and badges): a worker process (testing/webhook-worker.ts,
 * services built as the app builds them) is SIGKILLed right after the tip committed, or while its delivery request
 * is on the wire; a fresh worker process (the restart) then delivers.
 */

const WORKER = fileURLToPath(new URL('./testing/webhook-worker.ts', import.meta.url));
const WAIT_MS = 45_000;

let t: TestDatabase;
let ctx: AppContext;
let f: Factory;
let env: Record<string, string>;
let r: Receiver;
const crash = new CrashHarness({ worker: WORKER, env: () => env, waitMs: WAIT_MS });

beforeAll(async () => {
  t = await createTestDatabase();
  env = { LOG_LEVEL: 'silent', DATABASE_URL: t.url, WEBHOOKS_ALLOW_PRIVATE: 'true', DB_POOL_MAX: '4' };
  ctx = createTestContext(t, env);
  f = new Factory(t.db);
  r = new Receiver();
  await r.start();
});
afterEach(async () => {
  await crash.killAll();
  await t.db.updateTable('webhook_endpoints').set({ active: false }).execute();
});
afterAll(async () => {
  if (r?.server.listening) await r.stop();
  await ctx?.services.quota.stop();
  await t?.drop();
});

const worker = (...args: string[]): Promise<CrashWorker> => crash.start({ args });
const kill9 = (w: CrashWorker) => crash.kill9(w);

async function subscribed(): Promise<{ alice: TestUser; bob: TestUser; endpointId: bigint }> {
  const [alice, bob] = [await f.user(), await f.user()];
  await f.balance(alice);
  const { endpoint } = await subscribe(ctx, bob, r);
  r.received = [];
  r.hold = false;
  return { alice, bob, endpointId: endpoint.id };
}
const eventsOf = (u: TestUser) => t.db.selectFrom('webhook_events').select('id').where('owner_user_id', '=', u.id).execute();
const deliveriesOf = (endpointId: bigint) => t.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).execute();

describe('kill -9 between the change and its delivery', () => {
  it('killed right after the tip committed: the restarted process delivers it, once, with the one event id', async () => {
    const { alice, bob, endpointId } = await subscribed();
    const tipper = await worker('tip', alice.discordId, bob.discordId, 'crash-tip-1');
    await tipper.child.waitForLine((l) => l.raw === 'tipped', WAIT_MS);
    await kill9(tipper);

    // The change and its event committed together; nothing was sent.
    const events = await eventsOf(bob);
    expect(events).toHaveLength(1);
    expect(r.received).toEqual([]);
    expect(await deliveriesOf(endpointId)).toEqual([expect.objectContaining({ status: 'pending', attempts: 0 })]);

    const restarted = await worker('deliver');
    await restarted.child.waitForLine((l) => l.raw.startsWith('run '), WAIT_MS);
    await kill9(restarted);
    expect(r.received.map((x) => x.id)).toEqual([events[0]!.id]);
    expect(r.received[0]!.verified).toBe(true);
    expect(await deliveriesOf(endpointId)).toEqual([expect.objectContaining({ status: 'delivered', attempts: 1 })]);
  });

  it('killed while the request is on the wire: after restart (lease over) delivered again with the same event id', async () => {
    const { alice, bob, endpointId } = await subscribed();
    await ctx.services.ledger.tip({
      interactionId: 'crash-tip-2',
      sender: { discordId: alice.discordId, username: alice.username },
      receivers: [{ discordId: bob.discordId, username: bob.username }],
      amount: '0.1',
      currency: 'SOL',
    });
    const [event] = await eventsOf(bob);
    r.hold = true;
    const first = await worker('deliver');
    await expect.poll(() => r.received.length, { timeout: WAIT_MS, interval: 50 }).toBe(1);
    await kill9(first);
    expect(await deliveriesOf(endpointId)).toEqual([expect.objectContaining({ status: 'pending', attempts: 1 })]);

    // The dead process's lease (150 s) is what keeps others off the row meanwhile; let it run out.
    await t.db.updateTable('webhook_deliveries').set({ leased_until: sql`now()` }).where('endpoint_id', '=', endpointId).execute();
    r.hold = false;
    const restarted = await worker('deliver');
    await restarted.child.waitForLine((l) => l.raw.startsWith('run '), WAIT_MS);
    await kill9(restarted);

    expect(r.received).toHaveLength(2);
    expect(new Set(r.received.map((x) => x.id))).toEqual(new Set([event!.id]));
    expect(r.received.every((x) => x.verified)).toBe(true);
    expect(await eventsOf(bob)).toHaveLength(1);
    expect(await deliveriesOf(endpointId)).toEqual([expect.objectContaining({ status: 'delivered', attempts: 2 })]);
  });
});
