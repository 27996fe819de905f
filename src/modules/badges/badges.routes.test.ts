import type { FastifyInstance } from 'fastify';
import { Keypair } from '@solana/web3.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { createHttpServer } from '../../http/server';
import { createMetrics } from '../../metrics';
import { Factory } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { badgeAdminRoutes, badgeRoutes } from './badges.routes';

const TOKEN = 'admin-token-for-badge-route-tests-1';
let t: TestDatabase;
let emu: SolanaEmulator;
let ctx: AppContext;
let http: FastifyInstance;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  const { treasury, secretJson } = generateTreasury();
  emu.fund(treasury.publicKey, 1_000_000_000n);
  ctx = createTestContext(t, {
    ADMIN_TOKEN: TOKEN,
    SOLANA_RPC_URL: emu.rpcUrl,
    SOLANA_WS_URL: emu.wsUrl,
    BADGE_ISSUER_SECRET_KEY: secretJson,
    BADGE_MIN_TIER: 'none',
    PUBLIC_URL: 'http://badges.test',
  });
  http = await createHttpServer({ ctx, metrics: createMetrics(), plugins: [badgeRoutes], adminPlugins: [badgeAdminRoutes] });
});
afterAll(async () => {
  await http?.close();
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await t?.drop();
});

describe('badge HTTP', () => {
  it('serves Metaplex-style JSON and the SVG for a minted badge; the admin lists and revokes it', async () => {
    const factory = new Factory(t.db);
    const user = await factory.user();
    await factory.wallet(user, { address: Keypair.generate().publicKey.toBase58() });
    const ref = { discordId: user.discordId, username: user.username };
    await ctx.services.badges.acceptTerms(ref, ctx.config.BADGE_TERMS_VERSION);
    const { badge } = await ctx.services.badges.claim(ref);
    const mint = badge.mint!;

    const json = await http.inject({ method: 'GET', url: `/badges/${mint}.json` });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({
      name: 'Solbound Trust Badge',
      symbol: 'SBTRUST',
      image: `http://badges.test/badges/${mint}.svg`,
      attributes: expect.arrayContaining([{ trait_type: 'tier', value: badge.tier }, { trait_type: 'status', value: 'active' }]),
    });
    const svg = await http.inject({ method: 'GET', url: `/badges/${mint}.svg` });
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['content-type']).toMatch(/image\/svg\+xml/);
    expect(svg.body).toMatch(/^<svg[\s\S]*<\/svg>$/);

    expect((await http.inject({ method: 'GET', url: `/badges/${Keypair.generate().publicKey.toBase58()}.json` })).statusCode).toBe(404);
    expect((await http.inject({ method: 'GET', url: '/badges/nope.png' })).statusCode).toBe(400);

    const profile = await http.inject({ method: 'GET', url: `/admin/users/${user.discordId}`, headers: auth });
    expect(profile.json()).toMatchObject({ badge: { id: badge.id.toString(), status: 'active', mint } });

    expect((await http.inject({ method: 'GET', url: '/admin/badges' })).statusCode).toBe(401);
    const list = await http.inject({ method: 'GET', url: '/admin/badges?status=active', headers: auth });
    expect(list.json()).toMatchObject({ items: [{ id: badge.id.toString(), mint, status: 'active', discordId: user.discordId }] });

    const bad = await http.inject({ method: 'POST', url: `/admin/badges/${badge.id}/revoke`, headers: auth, payload: { reason: '' } });
    expect(bad.statusCode).toBe(400);
    const revoked = await http.inject({ method: 'POST', url: `/admin/badges/${badge.id}/revoke`, headers: auth, payload: { reason: 'fraud', operator: '42' } });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ status: 'revoked', revokeReason: 'fraud', revokedBy: '42' });
    const again = await http.inject({ method: 'POST', url: `/admin/badges/${badge.id}/revoke`, headers: auth, payload: { reason: 'fraud' } });
    expect(again.statusCode).toBe(409);
    expect((await http.inject({ method: 'POST', url: '/admin/badges/999999/revoke', headers: auth, payload: { reason: 'x' } })).statusCode).toBe(404);
  });
});
