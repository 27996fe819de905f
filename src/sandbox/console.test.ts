import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../testing/test-app';
import { runConsole, runScript } from './console';

let bot: TestApp;
beforeAll(async () => {
  bot = await startTestApp();
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
