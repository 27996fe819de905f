import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigrator, migrateToLatest, migrationStatus } from '../../db/migrator';
import type { AppContext } from '../../app-context';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { Receivers } from './testing/receiver';
import { subscribe } from './testing/subscribe';
import { claimDue } from './webhooks.repository';

// Migration 2026_11_28_224000_webhooks_compact_outbox: tip events written before it (stored payload, random id) and
// after it (journal_id only, time-ordered id) are delivered with the same body shape; the statement-level triggers
// delete what the foreign keys cascaded; down() stores the payloads again, restores the foreign keys and moves a
// lease in flight (leased_until) back into next_attempt_at.

const MIGRATION = '2026_11_28_224000_webhooks_compact_outbox';
let t: TestDatabase;
let ctx: AppContext;
let f: Factory;
const receivers = new Receivers();
beforeAll(async () => {
  t = await createTestDatabase();
  ctx = createTestContext(t, { WEBHOOKS_ALLOW_PRIVATE: 'true' });
  f = new Factory(t.db);
});
afterAll(async () => {
  await receivers.stopAll();
  await ctx?.services.quota.stop();
  await t?.drop();
});

async function migrateTo(name: string): Promise<void> {
  const result = await createMigrator(t.db).migrateTo(name);
  if (result.error) throw result.error instanceof Error ? result.error : new Error(String(result.error));
}
const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });
let tips = 0;
const tip = (from: TestUser, to: TestUser) =>
  ctx.services.ledger.tip({ interactionId: `compact-${++tips}`, sender: ref(from), receivers: [ref(to)], amount: '0.25', currency: 'SOL', note: 'ty' });
const events = (u: TestUser) =>
  sql<{ id: string; payload: Record<string, unknown> | null; journal_id: string | null }>`
    SELECT id, payload, to_jsonb(ev) ->> 'journal_id' AS journal_id FROM webhook_events ev WHERE owner_user_id = ${u.id} ORDER BY created_at, id`
    .execute(t.db)
    .then((r) => r.rows);
const foreignKeys = () =>
  sql<{ conname: string }>`SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('webhook_events'::regclass, 'webhook_deliveries'::regclass) ORDER BY conname`
    .execute(t.db)
    .then((r) => r.rows.map((c) => c.conname));

describe(`migration ${MIGRATION}`, () => {
  it('old and new tip events deliver the same body; deletes still cascade; down stores payloads and restores the keys', async () => {
    const names = (await migrationStatus(t.db)).map((m) => m.name);
    const before = names[names.indexOf(MIGRATION) - 1]!;
    await migrateTo(before);
    const [alice, bob] = [await f.user(), await f.user()];
    await f.balance(alice);
    const r = await receivers.start();
    const { endpoint } = await subscribe(ctx, ref(bob), r);
    await tip(alice, bob);
    const [old] = await events(bob);
    expect(old!.payload).toMatchObject({ note: 'ty', amount: '250000000' });

    await migrateToLatest(t.db);
    expect(await foreignKeys()).toEqual([]);
    await tip(alice, bob);
    const [, fresh] = await events(bob);
    expect(fresh!.payload).toBeNull();
    expect(fresh!.id).toMatch(/^msg_[0-9a-f]{32}$/);
    // Built at delivery from the journal leg: exactly the payload the old trigger stored for the old tip.
    const rebuilt = await sql<{ p: Record<string, unknown> }>`SELECT webhook_tip_payload(${old!.payload!.tipId as string}::bigint, ${bob.id}) AS p`.execute(t.db);
    expect(rebuilt.rows[0]!.p).toEqual(old!.payload);

    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 2, retried: 0, dead: 0 });
    expect(r.received.every((x) => x.verified)).toBe(true);
    const bodies = r.received.map((x) => JSON.parse(x.body) as { type: string; timestamp: string; data: Record<string, unknown> });
    expect(bodies.map((b) => Object.keys(b.data).sort())).toEqual([Object.keys(old!.payload!).sort(), Object.keys(old!.payload!).sort()]);
    expect(bodies[1]).toMatchObject({ type: 'tip.received', data: { receiverDiscordId: bob.discordId, senderDiscordId: alice.discordId, note: 'ty', tipId: fresh!.journal_id } });
    expect(bodies[1]!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // What the foreign keys cascaded, the statement-level triggers delete.
    await sql`DELETE FROM webhook_events WHERE id = ${old!.id}`.execute(t.db);
    const left = await t.db.selectFrom('webhook_deliveries').select('event_id').where('endpoint_id', '=', endpoint.id).execute();
    expect(left.map((d) => d.event_id)).toEqual([fresh!.id]);

    // A lease in flight (leased_until since this migration) still keeps its row off the due scan after down().
    await tip(alice, bob);
    const [leased] = await claimDue(t.db, 10, 600);
    expect(leased).toBeDefined();
    await migrateTo(before);
    const back = await sql<{ ahead: boolean }>`SELECT next_attempt_at > now() + interval '500 seconds' AS ahead FROM webhook_deliveries WHERE id = ${leased!.id}`.execute(t.db);
    expect(back.rows).toEqual([{ ahead: true }]);
    expect(await foreignKeys()).toEqual(['webhook_deliveries_endpoint_id_fkey', 'webhook_deliveries_event_id_fkey', 'webhook_events_owner_user_id_fkey']);
    const [restored] = await events(bob);
    expect(restored!.payload).toEqual({ ...old!.payload, tipId: fresh!.journal_id, createdAt: expect.any(String) });
    await migrateToLatest(t.db);

    const carol = await f.user();
    const { endpoint: gone } = await subscribe(ctx, ref(carol), r);
    await tip(alice, carol);
    await sql`DELETE FROM webhook_endpoints WHERE id = ${gone.id}`.execute(t.db);
    expect(await t.db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', gone.id).execute()).toEqual([]);
  });
});
