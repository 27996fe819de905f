import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { startDiscordEmulator, type DiscordEmulator, type EmuRole, type EmuUser } from '../../emulators/discord';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { Factory } from '../../testing/factories';
import { startTestApp, type TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';
import { expireSubscriptions } from './billing-jobs';

// Bulk grants and revokes through Discord's rate limits (the emulator's per-route buckets and a global limit lower
// than discord.js assumes, so real 429s come back): every change lands exactly once, nothing fails, nothing is lost.

const MEMBERS = 15;
const staff = { discordId: '930000000000000002', via: 'discord' as const };

let emu: DiscordEmulator;
let bot: TestApp;
let ctx: AppContext;
let t: TestDatabase;
let gold: EmuRole;

beforeAll(async () => {
  emu = await startDiscordEmulator({ rateLimits: { perRoute: 5, windowMs: 1_000, globalPerSecond: 4 } });
  gold = emu.role('Gold');
  bot = await startTestApp({ emu });
  ({ ctx, t } = bot);
  await ctx.services.billing.catalog.createPlan(staff, { guildId: emu.guild.id, code: 'gold', name: 'Gold', roleId: gold.id, prices: [{ cycle: 'month', price: '0.1', currency: 'SOL' }] });
});
afterAll(async () => {
  await bot?.close();
  await emu?.close();
});
failOnEmulatorGaps(() => emu);

it('grants and then revokes a role for many members through 429s, each exactly once', async () => {
  const f = new Factory(t.db);
  const members: EmuUser[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    const user = emu.user(`bulk-${i}`);
    members.push(user);
    await f.balance(await f.user({ discordId: user.id, username: user.username }));
    const ref = { discordId: user.id, username: user.username };
    const checkout = await ctx.services.billing.subscribe({ interactionId: `bulk-${i}`, guildId: emu.guild.id, user: ref, plan: 'gold', cycle: 'month' });
    await ctx.services.billing.payFromBalance(checkout.invoice.id, ref);
  }
  expect(await bot.app.jobs.runNow('billing-role-changes')).toMatchObject({ status: 'ok', result: { applied: MEMBERS, failed: 0, retried: 0 } });
  expect(members.filter((m) => emu.hasRole(m, gold))).toHaveLength(MEMBERS);

  const later = new Date(Date.now() + 40 * 86_400_000);
  expect(await expireSubscriptions(ctx, { now: later, batchSize: 4 })).toMatchObject({ expired: MEMBERS });
  expect(await bot.app.jobs.runNow('billing-role-changes')).toMatchObject({ status: 'ok', result: { applied: MEMBERS, failed: 0, retried: 0 } });
  expect(members.filter((m) => emu.hasRole(m, gold))).toHaveLength(0);

  const roleCalls = emu.requests.filter((r) => r.path.includes(`/roles/${gold.id}`));
  // Discord said 429 along the way, and discord.js waited and retried: each member's change succeeded once.
  expect(roleCalls.filter((r) => r.status === 429).length).toBeGreaterThan(0);
  expect(roleCalls.filter((r) => r.status === 204)).toHaveLength(2 * MEMBERS);
  expect(emu.roleChanges.filter((c) => c.roleId === gold.id).map((c) => c.action)).toEqual([...Array(MEMBERS).fill('add'), ...Array(MEMBERS).fill('remove')]);
  const open = await t.db.selectFrom('billing_role_changes').select('id').where('done_at', 'is', null).execute();
  expect(open).toEqual([]);
});
