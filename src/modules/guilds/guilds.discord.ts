import { ChannelType, type Client } from 'discord.js';
import type { GuildDirectory } from './guilds.service';

/**
 * What the bot can see of a guild, through discord.js. With the Guilds intent every guild the bot is in arrives by
 * GUILD_CREATE, so a guild missing from the cache is one it is not in. Channels and roles are fetched fresh, so an
 * id created a moment ago is known and one from another guild is not.
 */
export function discordGuildDirectory(client: Client): GuildDirectory {
  return {
    async lookup(guildId) {
      const guild = client.guilds.cache.get(guildId);
      if (!guild) return undefined;
      const [channels, roles] = await Promise.all([guild.channels.fetch(), guild.roles.fetch()]);
      const channelIds = new Set<string>();
      const textChannelIds = new Set<string>();
      for (const [id, channel] of channels) {
        if (!channel) continue;
        channelIds.add(id);
        if (channel.type === ChannelType.GuildText) textChannelIds.add(id);
      }
      return { channelIds, textChannelIds, roleIds: new Set(roles.keys()) };
    },
  };
}
