import { REST, Routes } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordEmulator, type DiscordEmulator } from './discord-emulator';
import { failOnEmulatorGaps } from './vitest-helpers';

// Discord's rate limits, opt-in: per-route buckets with X-RateLimit-* headers, 429 + retry_after, the global limit;
// and discord.js's REST client pacing itself against them.

let emu: DiscordEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});
failOnEmulatorGaps(() => emu);

const send = (e: DiscordEmulator, channelId: string, content: string) =>
  fetch(`${e.apiUrl}/v10/channels/${channelId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bot ${e.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content }),
  });

describe('rate limits', () => {
  it('are off by default: no headers, no 429', async () => {
    emu = await startDiscordEmulator();
    const general = emu.channel('general');
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => send(emu!, general.id, `m${i}`).then((r) => [r.status, r.headers.get('x-ratelimit-limit')])));
    expect(statuses).toEqual(Array.from({ length: 8 }, () => [200, null]));
  });

  it('a bucket answers X-RateLimit-* headers, then 429 with retry_after and Retry-After; other channels have their own bucket', async () => {
    emu = await startDiscordEmulator({ rateLimits: { perRoute: 2, windowMs: 60_000 } });
    const a = emu.channel('a');
    const first = await send(emu, a.id, '1');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(Number(first.headers.get('x-ratelimit-reset-after'))).toBeGreaterThan(0);
    expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    const bucket = first.headers.get('x-ratelimit-bucket');
    expect(bucket).toBeTruthy();
    const second = await send(emu, a.id, '2');
    expect(second.headers.get('x-ratelimit-remaining')).toBe('0');
    const third = await send(emu, a.id, '3');
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(third.headers.get('x-ratelimit-bucket')).toBe(bucket);
    expect(third.headers.get('x-ratelimit-scope')).toBe('user');
    expect(await third.json()).toMatchObject({ message: 'You are being rate limited.', retry_after: expect.any(Number), global: false });
    expect(emu.channelMessages(a).map((m) => m.content)).toEqual(['1', '2']);
    expect((await send(emu, emu.channel('b').id, 'elsewhere')).status).toBe(200);
  });

  it('the global limit applies across routes', async () => {
    emu = await startDiscordEmulator({ rateLimits: { perRoute: 100, globalPerSecond: 3 } });
    const ids = ['a', 'b', 'c', 'd'].map((n) => emu!.channel(n).id);
    const results = [];
    for (const id of ids) results.push(await send(emu, id, 'x'));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(results[3]!.headers.get('x-ratelimit-global')).toBe('true');
    expect(await results[3]!.json()).toMatchObject({ global: true });
  });

  it("discord.js's REST client honours them: a burst of sends all arrive, in order, none lost", async () => {
    emu = await startDiscordEmulator({ rateLimits: { perRoute: 3, windowMs: 300 } });
    const general = emu.channel('general');
    const rest = new REST({ api: emu.apiUrl, version: '10' }).setToken(emu.token);
    const n = 10;
    await Promise.all(Array.from({ length: n }, (_, i) => rest.post(Routes.channelMessages(general.id), { body: { content: `bulk ${i}` } })));
    expect(emu.channelMessages(general).map((m) => m.content)).toEqual(Array.from({ length: n }, (_, i) => `bulk ${i}`));
    // It waited for the bucket to reset instead of overrunning it: every send was accepted the first time or retried.
    const sends = emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/messages'));
    expect(sends.filter((r) => r.status === 200)).toHaveLength(n);
  });
});
