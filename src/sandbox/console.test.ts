import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../app-context';
import { parseConfig } from '../config';
import { join } from 'node:path';
import { startBotHarness, type BotHarness } from '../discord/bot-harness';
import { DEFAULT_COMMANDS_DIR, loadCommands } from '../discord/command-loader';
import { InteractionRegistry } from '../discord/interaction-registry';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { runConsole, runScript } from './console';

// No database: /help and /ping never touch ctx.db.
const ctx = { config: parseConfig({}), log: pino({ level: 'silent' }), db: undefined, services: {} } as unknown as AppContext;

let bot: BotHarness;
beforeAll(async () => {
  // Only commands/general: other groups need services and a database.
  const registry = new InteractionRegistry();
  await loadCommands(registry, join(DEFAULT_COMMANDS_DIR, 'general'));
  bot = await startBotHarness({ ctx, registry });
});
afterAll(async () => {
  await bot?.close();
});
failOnEmulatorGaps(() => bot?.emu);

describe('sandbox console', () => {
  it('runs a script and renders replies as text', async () => {
    const transcript = await runScript(bot.emu, ['# a comment', 'as alice /help', 'as bob /ping', 'users', 'as bob say #general "hi all"']);
    expect(transcript[0]).toContain('> as alice /help');
    expect(transcript[0]).toContain('bot → alice in #general:\n  (only you can see this)');
    expect(transcript[0]).toContain('│ **Solbound commands**');
    expect(transcript[1]).toMatch(/🏓 Pong!/);
    expect(transcript[2]).toContain('@alice');
    expect(transcript[3]).toBe('> as bob say #general "hi all"\nbob in #general:\n  hi all');
    expect(bot.emu.channelMessages('general').at(-1)).toMatchObject({ content: 'hi all', author: { username: 'bob' } });
  });

  it('fails a script on unexpected errors and on missing expected ones', async () => {
    await expect(runScript(bot.emu, ['as alice /help # expect-error'])).rejects.toThrow(/expected to fail/);
    await expect(runScript(bot.emu, ['as alice /nope'])).rejects.toThrow(/not registered/);
  });

  it('serves an interactive session', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (c: Buffer) => (text += c.toString()));
    const done = runConsole(bot.emu, input, output);
    input.write('help\nas carol /ping\nas carol click nothing:here\nas carol say #nowhere hello\nquit\n');
    await done;
    expect(text).toContain('as <user> click <customId>');
    expect(text).toContain('Pong!');
    expect(text).toContain('! no message visible to carol shows "nothing:here"');
    expect(text).toContain('! no channel or thread #nowhere');
  });
});
