import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../app-context';
import { startDiscordEmulator, type DiscordEmulator, type EmuChannel, type EmuMessage, type EmuRole } from '../emulators/discord';
import { renderMessage } from '../emulators/discord/render-message';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { openTicketThread } from '../modules/tickets/tickets.testing';
import { startTestApp, type TestApp } from '../testing/test-app';
import type { TestDatabase } from '../testing/test-db';

// Bulk work against Discord's rate limits: per-route buckets far tighter than Discord's (2 per 400 ms) and a global
// limit below what discord.js assumes (6/s against its 50/s), so the bot meets real 429s with `retry_after`, as a
// replica sharing the token would make it. Every piece of work must still land, once, and nothing may be reported
// as failed.

const LIMITS = { perRoute: 2, windowMs: 400, globalPerSecond: 6 };

let t: TestDatabase;
let ctx: AppContext;
let emu: DiscordEmulator;
let bot: TestApp;
let support: EmuChannel;
let staffRole: EmuRole;

beforeAll(async () => {
  emu = await startDiscordEmulator({ guildName: 'Bulk Guild', rateLimits: LIMITS });
  support = emu.channel('support');
  staffRole = emu.role('Support Staff');
  bot = await startTestApp({
    emu,
    env: { TICKETS_SUPPORT_CHANNEL_ID: support.id, TICKETS_STAFF_ROLE_ID: staffRole.id, TICKETS_MAX_OPEN_PER_USER: '10', TICKETS_OPEN_COOLDOWN_SECONDS: '0' },
  });
  ({ ctx, t } = bot);
});
afterAll(async () => {
  await bot?.close();
  await emu?.close();
});
failOnEmulatorGaps(() => emu);

const rateLimited = () => emu.requests.filter((r) => r.status === 429);
/** Every request the bot made that Discord refused for a reason other than a rate limit. */
const refused = () => emu.requests.filter((r) => r.status >= 400 && r.status !== 429);

describe('bulk work with Discord rate limits on', () => {
  it('the airdrop expiry job ends every expired airdrop message in one channel, none lost to a 429', async () => {
    const alice = emu.user('alice');
    const ops = emu.user('ops');
    await ctx.services.users.seedOperators([ops.id]);
    await emu.runCommand(ops, '/admin credit', { user: alice, amount: '10' }).reply();
    const n = 6;
    const messages: EmuMessage[] = [];
    for (let i = 0; i < n; i++) messages.push(await emu.runCommand(alice, '/airdrop', { amount: '0.1', claims: 2, duration: '10m' }).reply());
    const stored = () => t.db.selectFrom('airdrops').select('id').where('message_id', 'is not', null).execute();
    await expect.poll(async () => (await stored()).length).toBe(n);
    await t.db.updateTable('airdrops').set({ expires_at: new Date(Date.now() - 1000) }).execute();

    expect(await bot.app.jobs.runNow('airdrop-expiry')).toMatchObject({ status: 'ok', result: { expired: n, notUpdated: 0 } });
    for (const message of messages) expect(renderMessage(message)).toContain('Expired — the rest went back to the creator.');
    // Each message was edited exactly once: a 429 is retried, never turned into a second edit or a skipped one.
    const edits = emu.requests.filter((r) => r.method === 'PATCH' && r.status === 200 && messages.some((m) => r.path.endsWith(`/messages/${m.id}`)));
    // Three times the bucket: discord.js waited out X-RateLimit-Reset-After between them (or retried a 429).
    expect(edits).toHaveLength(n);
    expect(refused()).toEqual([]);
  });

  it('the ticket auto-close job closes a batch: every thread announced, archived and locked, every transcript DMed', async () => {
    const members = ['ann', 'ben', 'cat', 'dan'].map((name) => emu.user(name));
    const opened = [];
    for (const member of members) opened.push({ member, ...(await openTicketThread(emu, member, `Stuck ${member.username}`)) });
    await t.db
      .updateTable('tickets')
      .set({ last_activity_at: new Date(Date.now() - 49 * 3_600_000), warned_at: new Date(Date.now() - 13 * 3_600_000) })
      .where('id', 'in', opened.map((o) => BigInt(o.id)))
      .execute();
    const limitedBefore = rateLimited().length;

    expect(await bot.app.jobs.runNow('tickets-auto-close')).toEqual({ status: 'ok', result: { warned: 0, closed: opened.length, failed: 0 } });
    for (const { id, thread, card, member } of opened) {
      expect(thread).toMatchObject({ archived: true, locked: true });
      expect(renderMessage(card)).not.toContain('ticket-claim:');
      expect(emu.channelMessages(thread).filter((m) => m.content.startsWith('🔒 Ticket closed by the system'))).toHaveLength(1);
      const dms = emu.channelMessages(member).filter((m) => m.files[0]?.name === `ticket-${id}-transcript.md`);
      expect(dms).toHaveLength(1);
    }
    // The global limit bit (discord.js assumes 50/s): those requests were retried after `retry_after`, not lost.
    expect(rateLimited().length).toBeGreaterThan(limitedBefore);
    expect(refused()).toEqual([]);
  });
});
