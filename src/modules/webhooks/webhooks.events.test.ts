import { Keypair } from '@solana/web3.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { Receiver } from './testing/receiver';
import { subscribe } from './testing/subscribe';

// wallet.unlinked, badge.minted and badge.revoked (migration 2026_11_28_180000): written by triggers in the
// transaction of the change, through the real wallets and badges services (badges minted on the Solana emulator),
// delivered to a local receiver that verifies them with standardwebhooks.

let t: TestDatabase;
let emu: SolanaEmulator;
let ctx: AppContext;
let f: Factory;
let r: Receiver;

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  const { treasury, secretJson } = generateTreasury();
  emu.fund(treasury.publicKey, 10_000_000_000n);
  ctx = createTestContext(t, {
    WEBHOOKS_ALLOW_PRIVATE: 'true',
    SOLANA_RPC_URL: emu.rpcUrl,
    SOLANA_WS_URL: emu.wsUrl,
    BADGE_ISSUER_SECRET_KEY: secretJson,
    BADGE_MIN_TIER: 'none',
    PUBLIC_URL: 'http://127.0.0.1:3000',
  });
  f = new Factory(t.db);
  r = new Receiver();
  await r.start();
});
afterAll(async () => {
  if (r?.server.listening) await r.stop();
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await ctx?.services.quota.stop();
  await t?.drop();
});

const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });
const subscribeTo = (owner: TestUser, eventTypes: string[]) => subscribe(ctx, ref(owner), r, eventTypes);
const eventsOf = (u: TestUser) => t.db.selectFrom('webhook_events').select(['id', 'type', 'payload']).where('owner_user_id', '=', u.id).orderBy('created_at').execute();
const bodies = () => r.received.map((x) => JSON.parse(x.body) as { type: string; data: Record<string, unknown> });

describe('badge and wallet events', () => {
  it('link → badge minted → badge revoked by an operator → wallet unlinked: one signed event each, in the changes’ transactions', async () => {
    const bob = await f.user();
    await subscribeTo(bob, ['wallet.linked', 'wallet.unlinked', 'badge.minted', 'badge.revoked']);
    const wallet = Keypair.generate().publicKey.toBase58();
    await f.wallet(bob, { address: wallet });
    await ctx.services.badges.acceptTerms(ref(bob), ctx.config.BADGE_TERMS_VERSION);
    const { badge } = await ctx.services.badges.claim(ref(bob));
    expect(badge.status).toBe('active');
    const revoked = await ctx.services.badges.revoke({ discordId: bob.discordId }, 'scam reports', { discordId: '999', via: 'discord' });
    expect(revoked.status).toBe('revoked');
    await ctx.services.wallets.unlink(bob.discordId);

    expect((await eventsOf(bob)).map((e) => e.type)).toEqual(['wallet.linked', 'badge.minted', 'badge.revoked', 'wallet.unlinked']);
    expect(await ctx.services.webhooks.deliverDue()).toEqual({ delivered: 4, retried: 0, dead: 0 });
    expect(r.received.every((x) => x.verified)).toBe(true);
    const byType = Object.fromEntries(bodies().map((b) => [b.type, b.data]));
    expect(byType['badge.minted']).toMatchObject({ badgeId: String(badge.id), discordId: bob.discordId, wallet, mint: badge.mint, tier: badge.tier, revokedAt: null, revokeReason: null });
    expect(byType['badge.minted']!.mintedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(byType['badge.revoked']).toMatchObject({ badgeId: String(badge.id), mint: badge.mint, revokeReason: 'scam reports', revokedAt: expect.stringMatching(/Z$/) });
    expect(byType['wallet.unlinked']).toEqual({ discordId: bob.discordId, chain: 'solana', address: wallet });
  });

  it('only subscribed types are written; a failing unlink writes nothing', async () => {
    const carol = await f.user();
    await subscribeTo(carol, ['wallet.unlinked']);
    await f.wallet(carol);
    expect(await eventsOf(carol)).toEqual([]);
    await expect(ctx.services.wallets.unlink(carol.discordId, 'SomeOtherAddress1111111111111111111111111')).rejects.toMatchObject({ code: 'WALLET_CHANGED' });
    expect(await eventsOf(carol)).toEqual([]);
    await ctx.services.wallets.unlink(carol.discordId);
    expect((await eventsOf(carol)).map((e) => e.type)).toEqual(['wallet.unlinked']);
  });

  it('no badge.minted when a failed revoke puts a badge back to active; no badge.revoked for a claim cancelled before its mint', async () => {
    const dave = await f.user();
    await subscribeTo(dave, ['badge.minted', 'badge.revoked']);
    const insert = (status: string) =>
      sql<{ id: string }>`INSERT INTO trust_badges (user_id, wallet, issuer, status, terms_version, reputation_score, tier)
        VALUES (${dave.id}, ${Keypair.generate().publicKey.toBase58()}, 'issuer', ${status}, 'v1', 100, 'none') RETURNING id`.execute(t.db);
    const queued = (await insert('queued')).rows[0]!.id;
    await sql`UPDATE trust_badges SET status = 'revoked', revoked_at = now() WHERE id = ${queued}`.execute(t.db);
    const revoking = (await insert('revoking')).rows[0]!.id;
    await sql`UPDATE trust_badges SET status = 'active' WHERE id = ${revoking}`.execute(t.db);
    expect(await eventsOf(dave)).toEqual([]);
  });
});

describe('membership events', () => {
  it('pay from balance → invoice.paid + subscription.activated; cancel → subscription.canceled: delivered and verified', async () => {
    const guildId = '930000000000000001';
    const staff = { discordId: '930000000000000009', via: 'discord' as const };
    await ctx.services.billing.catalog.createPlan(staff, {
      guildId,
      code: 'gold',
      name: 'Gold',
      roleId: '930000000000000002',
      prices: [{ cycle: 'month', price: '0.5', currency: 'SOL' }],
    });
    const erin = await f.user();
    await f.balance(erin, { amount: 2_000_000_000n });
    await subscribeTo(erin, ['invoice.paid', 'subscription.activated', 'subscription.canceled']);
    r.received.length = 0;

    const { invoice } = await ctx.services.billing.subscribe({ interactionId: 'wh-sub-1', guildId, user: ref(erin), plan: 'gold', cycle: 'month' });
    const paid = await ctx.services.billing.payFromBalance(invoice.id, ref(erin));
    await t.db.transaction().execute((trx) => ctx.services.billing.endSubscription(trx, paid.subscription!.id, 'CANCELED', 'test'));

    // Carol's undelivered wallet.unlinked (signed with her secret) is refused by this receiver and retried later.
    expect(await ctx.services.webhooks.deliverDue()).toMatchObject({ delivered: 3, dead: 0 });
    const mine = r.received.filter((x) => x.verified).map((x) => JSON.parse(x.body) as { type: string; data: Record<string, unknown> });
    const byType = Object.fromEntries(mine.map((b) => [b.type, b.data]));
    expect(mine.map((b) => b.type).sort()).toEqual(['invoice.paid', 'subscription.activated', 'subscription.canceled']);
    expect(byType['invoice.paid']).toMatchObject({ discordId: erin.discordId, guildId, plan: 'gold', amount: '500000000', currency: 'SOL' });
    expect(byType['subscription.canceled']).toMatchObject({ subscriptionId: String(paid.subscription!.id), status: 'CANCELED' });
  });
});
