import { GatewayDispatchEvents, GatewayIntentBits as I } from 'discord-api-types/v10';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startDiscordEmulator, type DiscordEmulator } from './discord-emulator';
import { failOnEmulatorGaps } from './vitest-helpers';

// MESSAGE_UPDATE / MESSAGE_DELETE and GUILD_MEMBER_ADD / REMOVE, each delivered only to sessions with its intent.

let emu: DiscordEmulator;
const sockets: WebSocket[] = [];
beforeEach(async () => {
  emu = await startDiscordEmulator({ guildName: 'Events Guild' });
});
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.close();
  await emu.close();
});
failOnEmulatorGaps(() => emu);

/** A raw gateway session with `intents`; returns the dispatches it receives (t and d). */
async function session(intents: number): Promise<Array<{ t: string; d: Record<string, unknown> }>> {
  const events: Array<{ t: string; d: Record<string, unknown> }> = [];
  const ws = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json`);
  sockets.push(ws);
  await new Promise((resolve) => ws.once('message', resolve)); // HELLO
  const ready = new Promise<void>((resolve) => {
    ws.on('message', (raw: Buffer) => {
      const packet = JSON.parse(raw.toString()) as { op: number; t: string; d: Record<string, unknown> };
      if (packet.op !== 0) return;
      events.push({ t: packet.t, d: packet.d });
      if (packet.t === 'READY') resolve();
    });
  });
  ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents, properties: {} } }));
  await ready;
  return events;
}

const named = (events: Array<{ t: string; d: Record<string, unknown> }>, ...types: string[]) => events.filter((e) => types.includes(e.t));

describe('gateway events', () => {
  it('edits and deletes dispatch MESSAGE_UPDATE / MESSAGE_DELETE to sessions with GuildMessages only', async () => {
    const full = await session(I.Guilds | I.GuildMessages | I.MessageContent);
    const guildsOnly = await session(I.Guilds);
    const alice = emu.user('alice');
    const message = emu.say(alice, 'general', 'first draft');
    emu.editMessage(message, 'second draft');
    emu.deleteMessage(message);
    await expect.poll(() => named(full, GatewayDispatchEvents.MessageDelete).length).toBe(1);
    expect(named(full, GatewayDispatchEvents.MessageUpdate)[0]?.d).toMatchObject({ id: message.id, content: 'second draft', guild_id: emu.guild.id, edited_timestamp: expect.any(String) });
    expect(named(full, GatewayDispatchEvents.MessageDelete)[0]?.d).toEqual({ id: message.id, channel_id: message.channel_id, guild_id: emu.guild.id });
    expect(named(guildsOnly, GatewayDispatchEvents.MessageCreate, GatewayDispatchEvents.MessageUpdate, GatewayDispatchEvents.MessageDelete)).toEqual([]);
    expect(emu.channelMessages('general')).toEqual([]);
  });

  it("the bot's own edits and deletes through REST dispatch them too", async () => {
    const events = await session(I.Guilds | I.GuildMessages);
    const general = emu.channel('general');
    const api = (path: string, method: string, body?: unknown) =>
      fetch(`${emu.apiUrl}/v10${path}`, { method, headers: { authorization: `Bot ${emu.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const sent = (await (await api(`/channels/${general.id}/messages`, 'POST', { content: 'a' })).json()) as { id: string };
    await api(`/channels/${general.id}/messages/${sent.id}`, 'PATCH', { content: 'b' });
    await api(`/channels/${general.id}/messages/${sent.id}`, 'DELETE');
    await expect.poll(() => named(events, GatewayDispatchEvents.MessageDelete).length).toBe(1);
    expect(named(events, GatewayDispatchEvents.MessageUpdate)[0]?.d).toMatchObject({ id: sent.id, content: 'b' });
  });

  it('members joining and leaving dispatch GUILD_MEMBER_ADD / REMOVE to sessions with GuildMembers only', async () => {
    const members = await session(I.Guilds | I.GuildMembers);
    const guildsOnly = await session(I.Guilds);
    const bob = emu.user('bob');
    emu.removeMember(bob);
    await expect.poll(() => named(members, GatewayDispatchEvents.GuildMemberRemove).length).toBe(1);
    expect(named(members, GatewayDispatchEvents.GuildMemberAdd)[0]?.d).toMatchObject({ guild_id: emu.guild.id, user: { id: bob.id } });
    expect(named(members, GatewayDispatchEvents.GuildMemberRemove)[0]?.d).toMatchObject({ guild_id: emu.guild.id, user: { id: bob.id } });
    expect(emu.guild.members.has(bob.id)).toBe(false);
    expect(named(guildsOnly, GatewayDispatchEvents.GuildMemberAdd, GatewayDispatchEvents.GuildMemberRemove)).toEqual([]);
    // Guild-level events still reach both.
    emu.channel('new-channel');
    await expect.poll(() => named(guildsOnly, GatewayDispatchEvents.ChannelCreate).length).toBe(1);
  });
});
