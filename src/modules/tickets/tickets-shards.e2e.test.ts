import { ChannelType } from 'discord.js';
import { describe, expect, it } from 'vitest';
import type { EmuChannel } from '../../emulators/discord';
import { renderMessage } from '../../emulators/discord/render-message';
import { useOtherShardWorld } from '../../testing/other-shard';
import { ticketPolicy } from './tickets.service';

// The auto-close job and the admin API run on whichever replica takes them, and a replica holds only its own shards'
// guilds: a ticket's thread in another shard's guild must still be announced in, re-rendered, archived and locked.
const world = useOtherShardWorld();

/** The bot's own REST call, as the replica holding `other` made it when the member opened the ticket. */
async function botRest<T>(method: string, path: string, body: object): Promise<T> {
  const res = await fetch(`${world.emu.apiUrl}/v10${path}`, {
    method,
    headers: { authorization: `Bot ${world.emu.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

describe('tickets on a replica that does not hold the guild', () => {
  it('the auto-close job closes a ticket in a guild on another shard: closing line, card, archived + locked, even after an auto-archive', async () => {
    const { emu, bot, other } = world;
    const { ctx, t } = bot;
    expect(bot.client.guilds.cache.has(other.id)).toBe(false);
    const { member, support } = emu.inGuild(other, () => ({ member: emu.user('nia'), support: emu.channel('support') }));
    const { ticket } = await ctx.services.tickets.open(
      { opener: { discordId: member.id, username: member.username }, guildId: other.id, category: 'general', priority: 'normal', subject: 'Far away', description: 'x' },
      { ...ticketPolicy(ctx.config), categories: ['general'] },
    );
    const created = await botRest<{ id: string }>('POST', `/channels/${support.id}/threads`, { name: `ticket-${ticket.id}`, type: ChannelType.PrivateThread, invitable: false });
    const thread: EmuChannel = emu.channels.get(created.id)!;
    const cardData = await botRest<{ id: string }>('POST', `/channels/${thread.id}/messages`, { content: 'New ticket', embeds: [{ title: 'old card' }] });
    const card = emu.channelMessages(thread).find((m) => m.id === cardData.id)!;
    await ctx.services.tickets.attachThread(ticket.id, thread.id, card.id);
    // Quiet for a week: Discord archived the thread, so closing must reopen it first.
    expect(emu.archiveIdleThreads(Date.now() + 8 * 24 * 3_600_000)).toContainEqual(expect.objectContaining({ id: thread.id }));
    await t.db
      .updateTable('tickets')
      .set({ last_activity_at: new Date(Date.now() - 49 * 3_600_000), warned_at: new Date(Date.now() - 13 * 3_600_000) })
      .where('id', '=', ticket.id)
      .execute();

    expect(await bot.app.jobs.runNow('tickets-auto-close')).toEqual({ status: 'ok', result: { warned: 0, closed: 1, failed: 0 } });
    expect(thread).toMatchObject({ archived: true, locked: true });
    expect(emu.channelMessages(thread).map((m) => m.content)).toContainEqual(expect.stringMatching(/^🔒 Ticket closed by the system: No activity/));
    expect(renderMessage(card)).toContain('Far away');
    expect(renderMessage(card)).not.toContain('old card');
    expect(emu.requests.filter((r) => r.path.includes(`/channels/${thread.id}`) && r.status >= 400)).toEqual([]);
  });
});
