import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../app-context';
import type { OptionValue } from '../emulators/discord/discord-emulator';
import { renderMessage } from '../emulators/discord/render-message';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../testing/test-app';
import type { TestDatabase } from '../testing/test-db';

let t: TestDatabase;
let ctx: AppContext;
let bot: TestApp;

beforeAll(async () => {
  bot = await startTestApp();
  ({ t, ctx } = bot);
});
afterAll(async () => {
  await bot?.close();
});
failOnEmulatorGaps(() => bot?.emu);

/** 6,000 characters that try everything: markdown, mentions, newlines. */
const BIG = `@everyone **bold** \`code\` <@${'1'.repeat(18)}>\n${'x'.repeat(6_000)}`.slice(0, 6_000);
const DISCORD_MAX = 2_000;

describe('bounded echo: error replies that repeat user input stay within Discord limits', () => {
  it('every echoed option, driven with a 6,000-character value, gets a reply of at most 2,000 characters that pings no one', async () => {
    const alice = bot.emu.user('alice');
    const bob = bot.emu.user('bob');
    const ops = bot.emu.user('ops');
    // An operator, so /admin credit gets as far as parsing the echoed options.
    await ctx.services.users.seedOperators([ops.id]);
    const cases: Array<[string, string, Record<string, OptionValue>, typeof alice]> = [
      ['/tip amount', '/tip', { user: bob, amount: BIG }, alice],
      ['/tip currency', '/tip', { user: bob, amount: '1', currency: BIG }, alice],
      ['/balance currency', '/balance', { currency: BIG }, alice],
      ['/leaderboard currency', '/leaderboard', { currency: BIG }, alice],
      ['/airdrop amount', '/airdrop', { amount: BIG, claims: 2, duration: '10m' }, alice],
      ['/airdrop duration', '/airdrop', { amount: '1', claims: 2, duration: BIG }, alice],
      ['/airdrop currency', '/airdrop', { amount: '1', claims: 2, duration: '10m', currency: BIG }, alice],
      ['/rain amount', '/rain', { amount: BIG, count: 2 }, alice],
      ['/rain currency', '/rain', { amount: '1', count: 2, currency: BIG }, alice],
      ['/tip-confirm-above amount', '/tip-confirm-above', { amount: BIG }, alice],
      ['/tip-confirm-above currency', '/tip-confirm-above', { amount: '1', currency: BIG }, alice],
      ['/admin credit amount', '/admin credit', { user: bob, amount: BIG }, ops],
      ['/admin credit currency', '/admin credit', { user: bob, amount: '1', currency: BIG }, ops],
      ['/deposit amount', '/deposit', { amount: BIG }, alice],
      ['/deposit currency', '/deposit', { amount: '1', currency: BIG }, alice],
      ['/withdraw amount', '/withdraw', { amount: BIG }, alice],
      ['/withdraw currency', '/withdraw', { amount: '1', currency: BIG }, alice],
      ['/ticket open category', '/ticket open', { category: BIG }, alice],
      // (priority and status are choice options: Discord, and the emulator, refuse values outside the choices.)
      // Unknown ids in /tip users: 20 of them (under the recipient cap), each a valid-looking snowflake.
      ['/tip users (unknown ids)', '/tip', { user: bob, amount: '1', users: Array.from({ length: 20 }, (_, i) => `<@${9_000_000_000_000_000_00n + BigInt(i)}>`).join(' ') }, alice],
    ];
    for (const [what, command, options, user] of cases) {
      const reply = await bot.emu.runCommand(user, command, options).reply();
      const text = renderMessage(reply);
      expect({ what, error: reply.content.startsWith('❌'), ephemeral: reply.ephemeral }).toEqual({ what, error: true, ephemeral: true });
      expect({ what, length: reply.content.length <= DISCORD_MAX }).toEqual({ what, length: true });
      // The echo is neutralised: no live @everyone or user mention survives from the input.
      expect({ what, mentions: /@everyone|<@1{18}>/.test(text) }).toEqual({ what, mentions: false });
    }
    expect(await t.db.selectFrom('journal').select('id').execute()).toEqual([]);
  });

  it('/tip users: the 25-recipient cap is checked before any member is fetched', async () => {
    const alice = bot.emu.user('alice');
    const bob = bot.emu.user('bob');
    const ids = Array.from({ length: 300 }, (_, i) => `<@${8_000_000_000_000_000_00n + BigInt(i)}>`).join(' ');
    const fetchesBefore = bot.emu.requests.filter((r) => r.method === 'GET' && /^\/api\/v10\/users\/\d+$/.test(r.path)).length;
    const reply = await bot.emu.runCommand(alice, '/tip', { user: bob, amount: '1', users: ids }).reply();
    expect(reply.content).toBe('❌ Tip at most 25 members at once.');
    const fetchesAfter = bot.emu.requests.filter((r) => r.method === 'GET' && /^\/api\/v10\/users\/\d+$/.test(r.path)).length;
    expect(fetchesAfter).toBe(fetchesBefore);
    // 24 more (plus `user`) is exactly the cap: allowed past the count check, and unknown ones are named (a few).
    const unknown = Array.from({ length: 24 }, (_, i) => `<@${8_000_000_000_000_000_00n + BigInt(i)}>`).join(' ');
    const named = await bot.emu.runCommand(alice, '/tip', { user: bob, amount: '1', users: unknown }).reply();
    expect(named.content).toMatch(/^❌ Unknown member\(s\): (<@\d+>, ){4}<@\d+> and 19 more\.$/);
  });
});
