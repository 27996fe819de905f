import { readFileSync } from 'node:fs';
import { PermissionFlagsBits } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordEmulator, type DiscordEmulator, type EmuChannel, type EmuUser } from '../emulators/discord';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { openTicketThread, submitTicketForm } from '../modules/tickets/tickets.testing';
import { captureLogs } from '../testing/log-capture';
import { startTestApp, type TestApp } from '../testing/test-app';
import { BOT_PERMISSIONS, BOT_PERMISSIONS_INTEGER, inviteUrl, permissionNames } from './permissions';

// The bot with exactly the permissions it asks for, and without one: the member and staff are told what to fix, and
// a DM to a member with DMs closed is recorded instead of vanishing.

const { log: testLog, lines: logLines } = captureLogs('info');

let emu: DiscordEmulator;
let bot: TestApp;
let support: EmuChannel;
let modLog: EmuChannel;

beforeAll(async () => {
  emu = await startDiscordEmulator({ guildName: 'Permissions Guild' });
  support = emu.channel('support');
  modLog = emu.channel('mod-log');
  bot = await startTestApp({
    emu,
    log: testLog,
    env: { TICKETS_SUPPORT_CHANNEL_ID: support.id, TICKETS_OPEN_COOLDOWN_SECONDS: '0', TICKETS_MAX_OPEN_PER_USER: '5' },
  });
  await bot.ctx.services.guilds.update(emu.guild.id, { logChannelId: modLog.id }, { discordId: null, via: 'system' });
  // From here on the bot has what the invite URL grants, not Administrator.
  emu.setBotPermissions(BOT_PERMISSIONS_INTEGER);
});

afterAll(async () => {
  await bot?.close();
  await emu?.close();
});

failOnEmulatorGaps(() => emu);

async function closeOwnTicket(user: EmuUser, id: string, card: Parameters<DiscordEmulator['click']>[1]): Promise<void> {
  const shown = emu.click(user, card, `ticket-close:${id}`);
  await shown.modal();
  await emu.submitModal(user, shown, `ticket-close-submit:${id}`, { text: 'solved' }).reply();
}

describe('the permissions the bot asks for', () => {
  it('the README lists each one and the invite URL carries exactly their integer', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(inviteUrl('YOUR_APP_ID'));
    for (const name of permissionNames(BOT_PERMISSIONS_INTEGER)) expect(readme).toContain(`**${name}**`);
    expect(BOT_PERMISSIONS_INTEGER & PermissionFlagsBits.Administrator).toBe(0n);
    expect(new Set(BOT_PERMISSIONS.map((p) => p.flag)).size).toBe(BOT_PERMISSIONS.length);
  });

  it('are enough for a ticket from open to close (thread, member, card, lock and archive)', async () => {
    const alice = emu.user('alice');
    const { id, thread, card } = await openTicketThread(emu, alice, 'Deposit missing');
    expect(emu.threadMembers).toContainEqual({ threadId: thread.id, userId: alice.id });
    await closeOwnTicket(alice, id, card);
    expect(thread).toMatchObject({ archived: true, locked: true });
    expect(emu.channelMessages(alice).at(-1)?.content).toContain(`#${id}`);
  });
});

describe('when Discord refuses the bot', () => {
  it('without Create Private Threads, /ticket open tells the member and the log channel what to fix', async () => {
    emu.setBotPermissions(BOT_PERMISSIONS_INTEGER & ~PermissionFlagsBits.CreatePrivateThreads);
    try {
      const bob = emu.user('bob');
      const { reply } = await submitTicketForm(emu, bob, { subject: 'Help', description: 'Please help me.' });
      const fix = `I need Create Private Threads in <#${support.id}>.`;
      expect(reply.ephemeral).toBe(true);
      expect(reply.content).toContain(fix);
      await expect.poll(() => emu.channelMessages(modLog).at(-1)?.content ?? '').toContain(fix);
      expect(emu.channelMessages(modLog).at(-1)?.content).toContain(`<@${bob.id}> used`);
      // Nothing was left behind: the ticket row was dropped, so it does not count against the member.
      const open = await bot.t.db.selectFrom('tickets').select('id').where('discord_id', '=', bob.id).execute();
      expect(open).toEqual([]);
      expect(logLines.filter((l) => l.msg === 'discord refused the bot')).toHaveLength(1);
    } finally {
      emu.setBotPermissions(BOT_PERMISSIONS_INTEGER);
    }
  });

  it('a DM to a member with DMs closed is recorded (log line and metric), not retried', async () => {
    const carol = emu.user('carol');
    emu.closeDms(carol);
    const { id, thread, card } = await openTicketThread(emu, carol, 'Closed DMs');
    const sendsBefore = emu.requests.filter((r) => r.status === 403).length;
    await closeOwnTicket(carol, id, card);
    await expect.poll(() => logLines.filter((l) => l.msg === 'DM not delivered: the member has DMs closed' && l.discordId === carol.id).length).toBe(1);
    expect(await bot.app.metrics.dmsUndelivered.get()).toMatchObject({ values: [expect.objectContaining({ labels: { reason: 'dms_closed' }, value: 1 })] });
    expect(emu.channelMessages(carol)).toEqual([]);
    // One refused send, no retries; the close itself went through.
    expect(emu.requests.filter((r) => r.status === 403).length - sendsBefore).toBe(1);
    expect(thread).toMatchObject({ archived: true });
  });
});
