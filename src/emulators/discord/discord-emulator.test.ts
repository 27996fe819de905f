import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startDiscordEmulator, type DiscordEmulator } from './discord-emulator';
import { parseMultipart } from './multipart';
import { renderMessage } from './render-message';
import { failOnEmulatorGaps } from './vitest-helpers';

let emu: DiscordEmulator;
beforeEach(async () => {
  emu = await startDiscordEmulator({ guildName: 'Unit Guild', heartbeatIntervalMs: 1_000 });
});
afterEach(async () => {
  await emu.close();
});
failOnEmulatorGaps(() => emu);

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${emu.apiUrl}/v10${path}`, { ...init, headers: { authorization: `Bot ${emu.token}`, ...(init.headers ?? {}) } });

interface Packet {
  op: number;
  t?: string;
  s?: number;
  d: { session_id?: string } | null;
}

function gateway(): Promise<{ ws: WebSocket; next: () => Promise<Packet> }> {
  const ws = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json`);
  const queue: Packet[] = [];
  const waiters: Array<(v: Packet) => void> = [];
  ws.on('message', (raw) => {
    const packet = JSON.parse(raw.toString()) as Packet;
    const w = waiters.shift();
    if (w) w(packet);
    else queue.push(packet);
  });
  const next = () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise<Packet>((r) => waiters.push(r)));
  return new Promise((resolve) => ws.once('open', () => resolve({ ws, next })));
}

describe('discord emulator', () => {
  it('serves gateway/bot and users/@me, and rejects a bad token', async () => {
    expect(await (await api('/gateway/bot')).json()).toMatchObject({ url: emu.gatewayUrl, shards: 1 });
    expect(await (await api('/users/@me')).json()).toMatchObject({ id: emu.appId, bot: true });
    const res = await fetch(`${emu.apiUrl}/v10/users/@me`, { headers: { authorization: 'Bot wrong' } });
    expect(res.status).toBe(401);
    expect(emu.failures.splice(0)).toEqual([expect.objectContaining({ status: 401 })]);
  });

  it('speaks the gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeat ACK, RESUME replay, INVALID_SESSION', async () => {
    const first = await gateway();
    expect(await first.next()).toMatchObject({ op: 10, d: { heartbeat_interval: 1_000 } });
    // Guilds | GuildMembers: the GUILD_MEMBER_ADD replayed below needs the members intent.
    first.ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents: 1 | (1 << 1), properties: {} } }));
    const ready = await first.next();
    expect(ready).toMatchObject({ op: 0, t: 'READY', s: 1, d: { resume_gateway_url: emu.gatewayUrl, application: { id: emu.appId } } });
    expect(await first.next()).toMatchObject({ t: 'GUILD_CREATE', s: 2, d: { name: 'Unit Guild', unavailable: false } });
    first.ws.send(JSON.stringify({ op: 1, d: 2 }));
    expect(await first.next()).toMatchObject({ op: 11 });
    first.ws.terminate();
    await new Promise((r) => setTimeout(r, 20));
    emu.user('late-joiner'); // dispatched while disconnected → must be replayed

    const second = await gateway();
    await second.next(); // HELLO
    second.ws.send(JSON.stringify({ op: 6, d: { token: emu.token, session_id: ready.d?.session_id, seq: 2 } }));
    expect(await second.next()).toMatchObject({ t: 'GUILD_MEMBER_ADD', s: 3, d: { user: { username: 'late-joiner' } } });
    expect(await second.next()).toMatchObject({ t: 'RESUMED', s: 4 });
    second.ws.send(JSON.stringify({ op: 6, d: { token: emu.token, session_id: 'nope', seq: 0 } }));
    expect(await second.next()).toMatchObject({ op: 9, d: false });
    second.ws.close();
  });

  it('stores multipart attachments on channel messages and edits keep listed attachments', async () => {
    const channel = emu.channel('general');
    const form = new FormData();
    form.append('payload_json', JSON.stringify({ content: 'see file', attachments: [{ id: '0', filename: 'a.txt' }] }));
    form.append('files[0]', new Blob(['hello']), 'a.txt');
    const res = await api(`/channels/${channel.id}/messages`, { method: 'POST', body: form });
    const sent = (await res.json()) as { id: string; attachments: Array<{ id: string; filename: string }> };
    expect(sent.attachments).toEqual([expect.objectContaining({ filename: 'a.txt', size: 5 })]);
    const stored = emu.channelMessages(channel)[0]!;
    expect(stored.files[0]?.data.toString()).toBe('hello');
    expect(renderMessage(stored)).toBe('see file\n📎 a.txt (5 bytes)');

    await api(`/channels/${channel.id}/messages/${sent.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'edited', attachments: [] }),
    });
    expect(stored.content).toBe('edited');
    expect(stored.files).toEqual([]);
    const list = (await (await api(`/channels/${channel.id}/messages?limit=5`)).json()) as unknown[];
    expect(list).toHaveLength(1);
  });

  it('bulk-registers global and guild commands and lists them', async () => {
    const body = JSON.stringify([{ name: 'ping', description: 'p' }]);
    const headers = { 'content-type': 'application/json' };
    const global = (await (await api(`/applications/${emu.appId}/commands`, { method: 'PUT', headers, body })).json()) as Array<{ id: string }>;
    const again = (await (await api(`/applications/${emu.appId}/commands`, { method: 'PUT', headers, body })).json()) as Array<{ id: string }>;
    expect(again[0]?.id).toBe(global[0]?.id);
    await api(`/applications/${emu.appId}/guilds/${emu.guild.id}/commands`, { method: 'PUT', headers, body: JSON.stringify([{ name: 'admin', description: 'a' }]) });
    expect(await (await api(`/applications/${emu.appId}/guilds/${emu.guild.id}/commands`)).json()).toEqual([
      expect.objectContaining({ name: 'admin', guild_id: emu.guild.id }),
    ]);
  });

  it('guild roles, members and role changes', async () => {
    const alice = emu.user('alice');
    const vip = emu.role('VIP');
    expect((await api(`/guilds/${emu.guild.id}/members/${alice.id}/roles/${vip.id}`, { method: 'PUT' })).status).toBe(204);
    expect(emu.hasRole(alice, 'VIP')).toBe(true);
    const member = (await (await api(`/guilds/${emu.guild.id}/members/${alice.id}`)).json()) as { roles: string[] };
    expect(member.roles).toEqual([vip.id]);
    await api(`/guilds/${emu.guild.id}/members/${alice.id}/roles/${vip.id}`, { method: 'DELETE' });
    expect(emu.roleChanges.map((c) => c.action)).toEqual(['add', 'remove']);
    const roles = (await (await api(`/guilds/${emu.guild.id}/roles`)).json()) as Array<{ name: string }>;
    expect(roles.map((r) => r.name)).toEqual(['@everyone', 'Solbound', 'VIP']);
    expect((await api(`/guilds/${emu.guild.id}/members/123456789012345678`)).status).toBe(404);
  });

  it('say: stores the user message and sends MESSAGE_CREATE by intents; content only with MessageContent', async () => {
    const identify = async (intents: number) => {
      const g = await gateway();
      await g.next(); // HELLO
      g.ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents, properties: {} } }));
      await g.next(); // READY
      await g.next(); // GUILD_CREATE
      return g;
    };
    // Every session also takes GuildMembers, for the GUILD_MEMBER_ADD each of them expects first.
    const GUILDS = 1 | (1 << 1);
    const GUILD_MESSAGES = 1 << 9;
    const MESSAGE_CONTENT = 1 << 15;
    const full = await identify(GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT);
    const noContent = await identify(GUILDS | GUILD_MESSAGES);
    const noMessages = await identify(GUILDS);
    const alice = emu.user('alice');
    for (const g of [full, noContent, noMessages]) expect(await g.next()).toMatchObject({ t: 'GUILD_MEMBER_ADD' });

    const sent = emu.say(alice, '#general', `hey <@${emu.appId}>`);
    expect(emu.channelMessages('general')).toEqual([sent]);
    const event = (await full.next()) as Packet & { d: Record<string, unknown> };
    expect(event).toMatchObject({
      t: 'MESSAGE_CREATE',
      d: { id: sent.id, channel_id: emu.channel('general').id, guild_id: emu.guild.id, content: sent.content, author: { id: alice.id }, type: 0, tts: false, pinned: false },
    });
    expect(event.d.member).toMatchObject({ roles: [], joined_at: expect.any(String) });
    expect(event.d).not.toHaveProperty('ephemeral');
    // Mentioning the bot exempts a message from the MessageContent gate.
    expect(await noContent.next()).toMatchObject({ t: 'MESSAGE_CREATE', d: { content: sent.content, mentions: [expect.objectContaining({ id: emu.appId })] } });

    emu.say(alice, 'general', 'secret plans');
    expect(await full.next()).toMatchObject({ t: 'MESSAGE_CREATE', d: { content: 'secret plans' } });
    expect(await noContent.next()).toMatchObject({ t: 'MESSAGE_CREATE', d: { content: '', author: { id: alice.id } } });
    // No GuildMessages intent: nothing, so the next packet that session sees is the next guild event.
    emu.user('bob');
    expect(await noMessages.next()).toMatchObject({ t: 'GUILD_MEMBER_ADD', d: { user: { username: 'bob' } } });

    // The bot's own channel messages come back over the gateway too.
    await api(`/channels/${emu.channel('general').id}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'from the bot' }) });
    expect(await full.next()).toMatchObject({ t: 'GUILD_MEMBER_ADD' });
    expect(await full.next()).toMatchObject({ t: 'MESSAGE_CREATE', d: { content: 'from the bot', author: { id: emu.appId, bot: true } } });
    for (const g of [full, noContent, noMessages]) g.ws.close();
  });

  it('say: private threads need membership, unknown channels are refused', async () => {
    const g = await gateway();
    await g.next();
    g.ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents: 1 | (1 << 9) | (1 << 15), properties: {} } }));
    const created = await api(`/channels/${emu.channel('general').id}/threads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'private-talk', type: 12 }),
    });
    const thread = emu.channels.get(((await created.json()) as { id: string }).id)!;
    const carol = emu.user('carol');
    expect(() => emu.say(carol, '#private-talk', 'hi')).toThrow('carol cannot see private thread #private-talk');
    expect(() => emu.say(carol, '#nowhere', 'hi')).toThrow('no channel or thread #nowhere');
    emu.joinThread(carol, thread);
    const message = emu.say(carol, `<#${thread.id}>`, 'hi');
    expect(emu.channelMessages(thread)).toEqual([message]);
    expect(emu.say(emu.user('admin', { admin: true }), thread, 'staff here').channel_id).toBe(thread.id);
    g.ws.close();
  });

  it('parses multipart bodies with several files', () => {
    const body = Buffer.from(
      '--XyZ\r\nContent-Disposition: form-data; name="payload_json"\r\n\r\n{"a":1}\r\n' +
        '--XyZ\r\nContent-Disposition: form-data; name="files[0]"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n' +
        '--XyZ--\r\n',
      'latin1',
    );
    const parts = parseMultipart(body, 'multipart/form-data; boundary=XyZ');
    expect(parts.map((p) => [p.name, p.filename, p.data.length])).toEqual([
      ['payload_json', undefined, 7],
      ['files[0]', 'x.bin', 2],
    ]);
  });
});
