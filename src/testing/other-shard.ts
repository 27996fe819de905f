import { afterAll, beforeAll } from 'vitest';
import { shardOf, snowflakeOnShard, startDiscordEmulator, type DiscordEmulator, type EmuGuild } from '../emulators/discord';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from './test-app';

/**
 * A replica that holds one of two gateway shards, and a guild on the other shard. Jobs and the admin API run on
 * whichever replica takes them, so their Discord effects must reach guilds this client does not hold. The fields are
 * set in beforeAll.
 */
export interface OtherShardWorld {
  emu: DiscordEmulator;
  bot: TestApp;
  other: EmuGuild;
}

export function useOtherShardWorld(): OtherShardWorld {
  const SHARDS = 2;
  const world = {} as OtherShardWorld;
  beforeAll(async () => {
    world.emu = await startDiscordEmulator({ sharding: { shards: SHARDS } });
    const own = shardOf(world.emu.guild.id, SHARDS);
    world.other = world.emu.addGuild('Other Shard', { id: snowflakeOnShard(1 - own, SHARDS) });
    world.bot = await startTestApp({ emu: world.emu, env: { SHARD_COUNT: String(SHARDS), SHARD_IDS: String(own) } });
  });
  afterAll(async () => {
    await world.bot?.close();
    await world.emu?.close();
  });
  failOnEmulatorGaps(() => world.emu);
  return world;
}
