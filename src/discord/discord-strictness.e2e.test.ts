import { SlashCommandBuilder } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { captureLogs } from '../testing/log-capture';
import { startTestApp, type TestApp } from '../testing/test-app';
import type { Command } from './command';
import { errorRefOf, isErrorReply } from './error-reply';

// What the member and the logs see when the bot breaks one of Discord's rules: a reply over 2,000 characters and a
// first response after the 3 s deadline. The router must survive both.

const { log: testLog, lines: logLines } = captureLogs();

const testCommands: Command[] = [
  {
    data: new SlashCommandBuilder().setName('long').setDescription('replies with 2,001 characters'),
    async execute(interaction) {
      await interaction.reply('x'.repeat(2001));
    },
  },
  {
    data: new SlashCommandBuilder().setName('late').setDescription('answers after the 3 s deadline'),
    async execute(interaction) {
      await new Promise((r) => setTimeout(r, 3_300));
      await interaction.reply('finally');
    },
  },
];

let bot: TestApp;

beforeAll(async () => {
  // The real app, plus two commands that break Discord's rules on purpose (group "test").
  bot = await startTestApp({
    emulator: { guildName: 'Strict E2E Guild' },
    log: testLog,
    extendRegistry: (registry) => {
      for (const c of testCommands) registry.addCommand(c, 'test');
    },
  });
});

afterAll(async () => {
  await bot?.close();
});

failOnEmulatorGaps(() => bot?.emu);

const logged = (msg: string) => logLines.filter((l) => l.msg === msg);

describe('Discord rules the bot can break', () => {
  it('a 2,001-character reply is rejected with 50035; the member gets a short error with a reference id', async () => {
    const r = bot.emu.runCommand(bot.emu.user('alice'), '/long');
    const reply = await r.reply();
    expect(isErrorReply(reply.content)).toBe(true);
    expect(reply.ephemeral).toBe(true);
    const ref = errorRefOf(reply.content);
    const failure = logged('interaction failed').find((l) => l.ref === ref);
    // discord.js rejected the reply with Discord's own error.
    expect(failure?.err).toMatchObject({ type: 'DiscordAPIError', code: 50035, status: 400, message: expect.stringContaining('content[BASE_TYPE_MAX_LENGTH]') });
  });

  it('a first response after 3 s fails with 10062 Unknown interaction; nothing reaches the member, the router survives', async () => {
    const r = bot.emu.runCommand(bot.emu.user('bob'), '/late');
    await expect.poll(() => logged('could not show the error to the user').length, { timeout: 10_000 }).toBe(1);
    expect(r.acked).toBe(false);
    expect(logged('interaction failed').at(-1)?.err).toMatchObject({ type: 'DiscordAPIError', code: 10062, status: 404 });
    // Both the late reply and the fallback error reply missed the deadline: the emulator records them as failures.
    expect(bot.emu.failures.splice(0)).toEqual([
      expect.objectContaining({ status: 404, reason: expect.stringMatching(/^initial response \d+ ms after dispatch/) }),
      expect.objectContaining({ status: 404, reason: 'Unknown interaction' }),
    ]);
    // Still answering.
    expect(isErrorReply((await bot.emu.runCommand(bot.emu.user('carol'), '/long').reply()).content)).toBe(true);
  });
});
