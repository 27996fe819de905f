import { GatewayDispatchEvents, GatewayIntentBits as I } from 'discord-api-types/v10';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startDiscordEmulator, type DiscordEmulator } from './discord-emulator';
import { failOnEmulatorGaps } from './vitest-helpers';

// MESSAGE_UPDATE / MESSAGE_DELETE, GUILD_MEMBER_ADD / REMOVE and THREAD_MEMBERS_UPDATE, each delivered only to sessions
// with its intent; interaction messages on the gateway; archived-thread rules and auto-archive; close code 4014.

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

const api = (path: string, method = 'GET', body?: unknown) =>
  fetch(`${emu.apiUrl}/v10${path}`, { method, headers: { authorization: `Bot ${emu.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
const callback = (r: { id: string; token: string }, body: unknown) => api(`/interactions/${r.id}/${r.token}/callback`, 'POST', body);

describe('interaction messages on the gateway', () => {
  beforeEach(async () => {
    expect((await api(`/applications/${emu.appId}/commands`, 'PUT', [{ name: 'ping', description: 'Ping' }])).status).toBe(200);
  });

  it('replies and follow-ups dispatch MESSAGE_CREATE, their edits and deletes MESSAGE_UPDATE / DELETE; ephemeral ones nothing', async () => {
    const events = await session(I.Guilds | I.GuildMessages);
    const alice = emu.user('alice');
    const messageEvents = () => named(events, GatewayDispatchEvents.MessageCreate, GatewayDispatchEvents.MessageUpdate, GatewayDispatchEvents.MessageDelete);

    const r = emu.runCommand(alice, '/ping');
    expect((await callback(r, { type: 4, data: { content: 'pong' } })).status).toBe(204);
    const webhook = `/webhooks/${emu.appId}/${r.token}`;
    const followUp = (await (await api(webhook, 'POST', { content: 'and more' })).json()) as { id: string };
    await api(`${webhook}/messages/@original`, 'PATCH', { content: 'pong!' });
    await api(`${webhook}/messages/${followUp.id}`, 'DELETE');
    const secret = emu.runCommand(alice, '/ping');
    await callback(secret, { type: 4, data: { content: 'only you', flags: 64 } });
    await api(`/webhooks/${emu.appId}/${secret.token}`, 'POST', { content: 'still only you', flags: 64 });

    await expect.poll(() => messageEvents().length).toBe(4);
    const original = emu.replies.find((m) => m.content === 'pong!')!;
    expect(messageEvents().map((e) => [e.t, e.d.id])).toEqual([
      [GatewayDispatchEvents.MessageCreate, original.id],
      [GatewayDispatchEvents.MessageCreate, followUp.id],
      [GatewayDispatchEvents.MessageUpdate, original.id],
      [GatewayDispatchEvents.MessageDelete, followUp.id],
    ]);
    expect(messageEvents()[0]!.d).toMatchObject({ guild_id: emu.guild.id, webhook_id: emu.appId, author: { id: emu.bot.id }, content: 'pong' });
  });

  it('a deferred reply is created "thinking" and its first follow-up updates it in place', async () => {
    const events = await session(I.Guilds | I.GuildMessages);
    const r = emu.runCommand(emu.user('bob'), '/ping');
    await callback(r, { type: 5 });
    await api(`/webhooks/${emu.appId}/${r.token}`, 'POST', { content: 'done' });
    await expect.poll(() => named(events, GatewayDispatchEvents.MessageUpdate).length).toBe(1);
    const [created] = named(events, GatewayDispatchEvents.MessageCreate);
    expect(created?.d).toMatchObject({ content: '', flags: 128 });
    expect(named(events, GatewayDispatchEvents.MessageUpdate)[0]?.d).toMatchObject({ id: created?.d.id, content: 'done', flags: 0 });
  });
});

describe('threads', () => {
  const makeThread = async (name: string, autoArchive = 1440) =>
    (await (await api(`/channels/${emu.channel('general').id}/threads`, 'POST', { name, type: 12, auto_archive_duration: autoArchive })).json()) as { id: string };

  it('a member added to a thread dispatches THREAD_MEMBERS_UPDATE, to sessions with GuildMembers only', async () => {
    const members = await session(I.Guilds | I.GuildMembers);
    const guildsOnly = await session(I.Guilds);
    const carol = emu.user('carol');
    const thread = await makeThread('help');
    expect((await api(`/channels/${thread.id}/thread-members/${carol.id}`, 'PUT')).status).toBe(204);
    await expect.poll(() => named(members, GatewayDispatchEvents.ThreadMembersUpdate).length).toBe(1);
    expect(named(members, GatewayDispatchEvents.ThreadMembersUpdate)[0]?.d).toMatchObject({
      id: thread.id,
      guild_id: emu.guild.id,
      member_count: 2,
      added_members: [{ id: thread.id, user_id: carol.id, flags: 0 }],
    });
    await expect.poll(() => named(guildsOnly, GatewayDispatchEvents.ThreadCreate).length).toBe(1);
    expect(named(guildsOnly, GatewayDispatchEvents.ThreadMembersUpdate)).toEqual([]);
  });

  it("follow Discord's archived-thread rules: a post reopens an unlocked thread; a locked one, edits and member adds get 50083", async () => {
    const events = await session(I.Guilds | I.GuildMessages);
    const thread = await makeThread('archived');
    const channel = emu.channels.get(thread.id)!;
    const posted = (await (await api(`/channels/${thread.id}/messages`, 'POST', { content: 'first' })).json()) as { id: string };
    await api(`/channels/${thread.id}`, 'PATCH', { archived: true });
    expect(channel.archived).toBe(true);
    const archivedError = { code: 50083, message: 'Thread is archived' };
    const edit = await api(`/channels/${thread.id}/messages/${posted.id}`, 'PATCH', { content: 'edited' });
    expect([edit.status, await edit.json()]).toEqual([400, archivedError]);
    const add = await api(`/channels/${thread.id}/thread-members/${emu.user('dave').id}`, 'PUT');
    expect([add.status, await add.json()]).toEqual([400, archivedError]);
    expect((await api(`/channels/${thread.id}`, 'PATCH', { name: 'renamed' })).status).toBe(400);

    const updatesBefore = named(events, GatewayDispatchEvents.ThreadUpdate).length;
    expect((await api(`/channels/${thread.id}/messages`, 'POST', { content: 'reopens it' })).status).toBe(200);
    expect(channel.archived).toBe(false);
    await expect.poll(() => named(events, GatewayDispatchEvents.ThreadUpdate).length).toBe(updatesBefore + 1);
    expect(named(events, GatewayDispatchEvents.ThreadUpdate).at(-1)?.d).toMatchObject({ id: thread.id, thread_metadata: { archived: false } });

    await api(`/channels/${thread.id}`, 'PATCH', { archived: true, locked: true });
    const locked = await api(`/channels/${thread.id}/messages`, 'POST', { content: 'refused' });
    expect([locked.status, await locked.json()]).toEqual([400, archivedError]);
    expect(emu.channelMessages(channel).map((m) => m.content)).toEqual(['first', 'reopens it']);
    expect((await api(`/channels/${thread.id}`, 'PATCH', { archived: false, locked: false })).status).toBe(200);
    expect(channel).toMatchObject({ archived: false, locked: false });
  });

  it('threads archive themselves after their auto-archive duration without messages', async () => {
    const hour = await makeThread('hour', 60);
    const day = await makeThread('day', 1440);
    const start = Date.now();
    expect(emu.archiveIdleThreads(start + 30 * 60_000)).toEqual([]);
    expect(emu.archiveIdleThreads(start + 61 * 60_000).map((c) => c.id)).toEqual([hour.id]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const erin = emu.user('erin');
    emu.joinThread(erin, emu.channels.get(day.id)!);
    await session(I.Guilds | I.GuildMessages);
    const said = Date.parse(emu.say(erin, emu.channels.get(day.id)!, 'still here').timestamp);
    // A day after creation, but not a day after the last message.
    expect(emu.archiveIdleThreads(said + 1440 * 60_000 - 5)).toEqual([]);
    expect(emu.archiveIdleThreads(said + 1440 * 60_000 + 5).map((c) => c.id)).toEqual([day.id]);
  });
});

describe('privileged intents', () => {
  it('an IDENTIFY asking for a privileged intent the app has not enabled is closed with 4014', async () => {
    emu.gateway.privilegedIntents = I.GuildMembers;
    const ws = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json`);
    sockets.push(ws);
    await new Promise((resolve) => ws.once('message', resolve)); // HELLO
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents: I.Guilds | I.GuildMembers | I.MessageContent, properties: {} } }));
    expect(await closed).toBe(4014);
    await session(I.Guilds | I.GuildMembers);
  });
});
