import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startDiscordEmulator, type DiscordEmulator, type DiscordEmulatorOptions } from './discord-emulator';
import { shardOf, snowflakeOnShard } from './gateway';
import { failOnEmulatorGaps } from './vitest-helpers';

let emu: DiscordEmulator;
afterEach(async () => {
  await emu.close();
});
failOnEmulatorGaps(() => emu);

async function start(options: DiscordEmulatorOptions): Promise<DiscordEmulator> {
  emu = await startDiscordEmulator({ heartbeatIntervalMs: 60_000, ...options });
  return emu;
}

interface Packet {
  op: number;
  t?: string;
  d: Record<string, unknown> | null;
}

/** A raw gateway session that IDENTIFYs as `shard`; collects dispatches and the close code. */
async function identify(shard: [number, number] | undefined) {
  const ws = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json`);
  const events: Packet[] = [];
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('message', (raw) => {
    const packet = JSON.parse(raw.toString()) as Packet;
    if (packet.op === 0) events.push(packet);
  });
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents: 1 | 2 | 512 | 4096 | 32768, properties: {}, ...(shard ? { shard } : {}) } }));
  return { ws, events, closed, guilds: () => events.filter((e) => e.t === 'GUILD_CREATE').map((e) => e.d?.id) };
}

const until = async (check: () => boolean) => {
  const deadline = Date.now() + 10_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe('discord emulator: gateway sharding', () => {
  it('GET /gateway/bot recommends the configured shard count and counts session starts against the limit', async () => {
    await start({ sharding: { shards: 4, sessionStartLimit: 3, maxConcurrency: 2 } });
    const info = async () =>
      (await (await fetch(`${emu.apiUrl}/v10/gateway/bot`, { headers: { authorization: `Bot ${emu.token}` } })).json()) as {
        shards: number;
        session_start_limit: { total: number; remaining: number; reset_after: number; max_concurrency: number };
      };
    expect(await info()).toMatchObject({ shards: 4, session_start_limit: { total: 3, remaining: 3, reset_after: 0, max_concurrency: 2 } });
    const sessions = [await identify([0, 4]), await identify([1, 4]), await identify([2, 4])];
    await until(() => sessions.every((s) => s.events.some((e) => e.t === 'READY')));
    const after = await info();
    expect(after.session_start_limit.remaining).toBe(0);
    expect(after.session_start_limit.reset_after).toBeGreaterThan(0);
    // Past the limit Discord resets the token; the emulator refuses and records it as a bot mistake.
    expect(await (await identify([3, 4])).closed).toBe(4004);
    expect(emu.failures.splice(0).map((f) => f.reason)).toEqual(['session start limit exhausted (Discord resets the token)']);
    for (const s of sessions) s.ws.close();
  });

  it('IDENTIFY with an impossible shard closes 4010; with too few shards for the guild count 4011', async () => {
    await start({ sharding: { maxGuildsPerShard: 1 } });
    // One guild on each of two shards (random ids would put both on one shard a quarter of the time).
    emu.addGuild('Second', { id: snowflakeOnShard(1 - shardOf(emu.guild.id, 2), 2) });
    expect(await (await identify([2, 2])).closed).toBe(4010);
    expect(await (await identify([-1, 2])).closed).toBe(4010);
    expect(await (await identify([0, 0])).closed).toBe(4010);
    // Two guilds at one guild per shard: one session may not hold both.
    expect(await (await identify(undefined)).closed).toBe(4011);
    expect(await (await identify([0, 1])).closed).toBe(4011);
    const ok = await identify([1, 2]);
    await until(() => ok.guilds().length === 1);
    ok.ws.close();
  });

  it('routes guild events to shard (guild_id >> 22) % count and DMs to shard 0', async () => {
    await start({ sharding: { shards: 2 } });
    const first = emu.guild;
    const other = emu.addGuild('Other', { id: snowflakeOnShard(1 - shardOf(first.id, 2), 2) });
    expect(shardOf(other.id, 2)).not.toBe(shardOf(first.id, 2));
    const shard = [await identify([0, 2]), await identify([1, 2])];
    const owner = (guildId: string) => shard[shardOf(guildId, 2)]!;
    await until(() => shard.every((s) => s.guilds().length === 1));
    expect(owner(first.id).guilds()).toEqual([first.id]);
    expect(owner(other.id).guilds()).toEqual([other.id]);

    const before = shard.map((s) => s.events.length);
    const bob = emu.inGuild(other, () => emu.user('bob'));
    const message = emu.inGuild(other, () => emu.say(bob, 'general', 'hello'));
    await until(() => owner(other.id).events.some((e) => e.t === 'MESSAGE_CREATE' && e.d?.id === message.id));
    expect(owner(other.id).events.slice(before[shardOf(other.id, 2)]).map((e) => e.t)).toEqual(['GUILD_MEMBER_ADD', 'MESSAGE_CREATE']);
    expect(owner(first.id).events).toHaveLength(before[shardOf(first.id, 2)]!);

    // An event without a guild (a DM) goes to shard 0 only.
    emu.dispatch('TYPING_START', { channel_id: '1', user_id: bob.id, timestamp: 0 });
    await until(() => shard[0]!.events.some((e) => e.t === 'TYPING_START'));
    expect(shard[1]!.events.some((e) => e.t === 'TYPING_START')).toBe(false);
    for (const s of shard) s.ws.close();
  });
});
