import { ChannelType, PermissionFlagsBits as P } from 'discord-api-types/v10';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDiscordEmulator, type DiscordEmulator } from './discord-emulator';
import { failOnEmulatorGaps } from './vitest-helpers';

// The bot's permissions as Discord computes them (base = @everyone + roles, Administrator = all, then the channel's
// overwrites for @everyone, roles, member), enforced by the REST guard with Discord's codes.

let emu: DiscordEmulator;
beforeEach(async () => {
  emu = await startDiscordEmulator({ guildName: 'Perms Guild' });
});
afterEach(async () => {
  await emu.close();
});
failOnEmulatorGaps(() => emu);

const api = (path: string, method = 'GET', body?: unknown) =>
  fetch(`${emu.apiUrl}/v10${path}`, {
    method,
    headers: { authorization: `Bot ${emu.token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

async function code(res: Response): Promise<[number, number | undefined]> {
  const text = await res.text();
  return [res.status, text ? (JSON.parse(text) as { code?: number }).code : undefined];
}

const BASIC = P.ViewChannel | P.SendMessages | P.ReadMessageHistory;

describe('bot permissions', () => {
  it('defaults to Administrator: everything is allowed', async () => {
    const support = emu.channel('support');
    expect(emu.botPermissions(support) & P.CreatePrivateThreads).toBe(P.CreatePrivateThreads);
    const res = await api(`/channels/${support.id}/threads`, 'POST', { name: 't', type: ChannelType.PrivateThread });
    expect(res.status).toBe(201);
  });

  it('creating a private thread without Create Private Threads answers 403 / 50013', async () => {
    const support = emu.channel('support');
    emu.setBotPermissions(BASIC | P.CreatePublicThreads);
    expect(await code(await api(`/channels/${support.id}/threads`, 'POST', { name: 't', type: ChannelType.PrivateThread }))).toEqual([403, 50013]);
    // A public thread only needs Create Public Threads.
    expect((await api(`/channels/${support.id}/threads`, 'POST', { name: 't', type: ChannelType.PublicThread })).status).toBe(201);
  });

  it('channel overwrites apply in order: @everyone, roles, then the member', async () => {
    const support = emu.channel('support');
    const bot = emu.bot;
    emu.setBotPermissions(BASIC | P.CreatePrivateThreads);
    emu.setOverwrite(support, 'everyone', { deny: P.CreatePrivateThreads });
    expect(emu.botPermissions(support) & P.CreatePrivateThreads).toBe(0n);
    emu.setOverwrite(support, emu.botRole(), { allow: P.CreatePrivateThreads });
    expect(emu.botPermissions(support) & P.CreatePrivateThreads).toBe(P.CreatePrivateThreads);
    emu.setOverwrite(support, bot, { deny: P.CreatePrivateThreads });
    expect(await code(await api(`/channels/${support.id}/threads`, 'POST', { name: 't', type: ChannelType.PrivateThread }))).toEqual([403, 50013]);
    // Removing the member overwrite falls back to the role's allow.
    emu.setOverwrite(support, bot, {});
    expect((await api(`/channels/${support.id}/threads`, 'POST', { name: 't', type: ChannelType.PrivateThread })).status).toBe(201);
  });

  it('a channel the bot cannot view answers 50001 Missing Access; one it cannot write in 50013', async () => {
    const hidden = emu.channel('hidden');
    const quiet = emu.channel('quiet');
    emu.setBotPermissions(BASIC);
    emu.setOverwrite(hidden, 'everyone', { deny: P.ViewChannel });
    emu.setOverwrite(quiet, 'everyone', { deny: P.SendMessages });
    expect(await code(await api(`/channels/${hidden.id}/messages`, 'POST', { content: 'hi' }))).toEqual([403, 50001]);
    expect(await code(await api(`/channels/${quiet.id}/messages`, 'POST', { content: 'hi' }))).toEqual([403, 50013]);
    expect((await api(`/channels/${emu.channel('general').id}/messages`, 'POST', { content: 'hi' })).status).toBe(200);
  });

  it('adding a role needs Manage Roles and a bot role above it', async () => {
    const alice = emu.user('alice');
    const vip = emu.role('VIP');
    const path = `/guilds/${emu.guild.id}/members/${alice.id}/roles/${vip.id}`;
    emu.setBotPermissions(BASIC);
    expect(await code(await api(path, 'PUT'))).toEqual([403, 50013]);
    emu.setBotPermissions(BASIC | P.ManageRoles, { position: vip.position });
    expect(await code(await api(path, 'PUT'))).toEqual([403, 50013]);
    emu.setBotPermissions(BASIC | P.ManageRoles, { position: vip.position + 1 });
    expect((await api(path, 'PUT')).status).toBe(204);
    expect(emu.hasRole(alice, vip)).toBe(true);
  });

  it('adding a thread member needs Send Messages in Threads', async () => {
    const alice = emu.user('alice');
    const created = (await (await api(`/channels/${emu.channel('general').id}/threads`, 'POST', { name: 't', type: ChannelType.PrivateThread })).json()) as { id: string };
    emu.setBotPermissions(BASIC);
    expect(await code(await api(`/channels/${created.id}/thread-members/${alice.id}`, 'PUT'))).toEqual([403, 50013]);
    emu.setBotPermissions(BASIC | P.SendMessagesInThreads);
    expect((await api(`/channels/${created.id}/thread-members/${alice.id}`, 'PUT')).status).toBe(204);
  });

  it('a user with DMs closed: opening the DM works, sending answers 403 / 50007', async () => {
    const alice = emu.user('alice');
    emu.closeDms(alice);
    const dm = (await (await api('/users/@me/channels', 'POST', { recipient_id: alice.id })).json()) as { id: string };
    expect(await code(await api(`/channels/${dm.id}/messages`, 'POST', { content: 'hi' }))).toEqual([403, 50007]);
    expect(emu.channelMessages(alice)).toEqual([]);
    emu.openDms(alice);
    expect((await api(`/channels/${dm.id}/messages`, 'POST', { content: 'hi' })).status).toBe(200);
  });
});
