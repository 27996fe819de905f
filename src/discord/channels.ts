import type { Channel, Client } from 'discord.js';

/**
 * A channel by id, whichever shard its guild is on. Jobs and the admin API run on any replica, and a replica holds
 * only its own shards' guilds: discord.js's plain fetch of a channel in another shard's guild yields no usable
 * channel (it cannot build a guild channel without the guild). Allowing the unknown guild gives a channel object
 * that talks REST by id, which is all sending or editing a message needs; it is not cached.
 */
export async function fetchChannelOnAnyShard(client: Client, channelId: string): Promise<Channel | null> {
  return client.channels.fetch(channelId, { allowUnknownGuild: true });
}
