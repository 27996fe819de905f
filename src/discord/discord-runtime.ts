import type { Client } from 'discord.js';
import type { AppContext } from '../app-context';
import { authorizeByRole } from './authorize';
import { buildRegistry } from './command-loader';
import { deployCommands } from './deploy-commands';
import { createDiscordClient, loginDiscordClient } from './discord-client';
import type { InteractionRegistry } from './interaction-registry';
import { attachInteractionRouter, createInteractionRouter } from './interaction-router';

export interface DiscordRuntime {
  client: Client;
  registry: InteractionRegistry;
  stop(): Promise<void>;
}

export interface DiscordRuntimeOptions {
  token: string;
  apiUrl?: string;
  /**
   * Bulk-register the commands before logging in. Real deployments use `npm run deploy-commands` instead
   * (registration is rate limited and global commands take time to propagate); the sandbox's emulator starts
   * empty, so it asks for it.
   */
  deploy?: { appId: string; guildId?: string };
}

/** The bot: loaded commands and components, the router, a logged-in client. */
export async function startDiscord(ctx: AppContext, options: DiscordRuntimeOptions): Promise<DiscordRuntime> {
  const registry = await buildRegistry();
  const { SHARD_COUNT, SHARD_IDS } = ctx.config;
  const client = createDiscordClient({
    token: options.token,
    ...(options.apiUrl ? { apiUrl: options.apiUrl } : {}),
    // Replicas split the gateway: each runs SHARD_IDS of SHARD_COUNT; one process alone runs what Discord recommends.
    shards: SHARD_COUNT ? { count: SHARD_COUNT, ...(SHARD_IDS ? { ids: SHARD_IDS } : {}) } : 'auto',
  });
  attachInteractionRouter(client, createInteractionRouter({ registry, ctx, authorize: authorizeByRole }));
  try {
    if (options.deploy) {
      await deployCommands({
        rest: client.rest,
        appId: options.deploy.appId,
        commands: registry,
        ...(options.deploy.guildId ? { guildId: options.deploy.guildId } : {}),
      });
    }
    await loginDiscordClient(client);
  } catch (err) {
    await client.destroy();
    throw err;
  }
  ctx.log.info(
    {
      user: client.user?.tag,
      shards: client.options.shards,
      shardCount: client.options.shardCount,
      guilds: client.guilds.cache.size,
      commands: registry.commandsJson().length,
    },
    'discord ready',
  );
  return { client, registry, stop: () => client.destroy() };
}
