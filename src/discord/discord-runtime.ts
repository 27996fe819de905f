import { Events, type Client } from 'discord.js';
import type { AppContext } from '../app-context';
import { authorizeByAuthority } from './authorize';
import { buildRegistry } from './command-loader';
import { deployCommands } from './deploy-commands';
import { fatalGatewayClose, loginDiscordClient } from './discord-client';
import type { InteractionRegistry } from './interaction-registry';
import { attachInteractionRouter, createInteractionRouter, type InteractionRouter } from './interaction-router';
import { createReplyOutbox, type ReplyOutbox } from './reply-outbox';

export interface DiscordRuntime {
  client: Client;
  registry: InteractionRegistry;
  router: InteractionRouter;
  /** Deferrals written down until answered; this replica answers the ones other processes left. */
  outbox: ReplyOutbox;
  stop(): Promise<void>;
}

export interface DiscordRuntimeOptions {
  /**
   * Bulk-register the commands before logging in. Real deployments use `npm run deploy-commands` instead
   * (registration is rate limited and global commands take time to propagate); the sandbox's and the tests'
   * emulators start empty, so they ask for it. Without guildId the commands are global (usable in DMs too).
   */
  deploy?: { appId: string; guildId?: string };
  /**
   * Adds to what is discovered on disk (commands/, *.component.ts, *.message.ts). Production never passes it; the
   * interaction-router e2e test uses it for commands that exercise the router's edge cases.
   */
  extend?: (registry: InteractionRegistry) => void;
}

/**
 * The bot on an existing client (created by the composition root so the modules' effects could be bound to it):
 * loaded commands and components, the router with the database-role authorization, optional command deployment,
 * then login — last, so no interaction arrives before everything it needs is in place.
 */
export async function startDiscord(ctx: AppContext, client: Client, options: DiscordRuntimeOptions = {}): Promise<DiscordRuntime> {
  const registry = await buildRegistry();
  options.extend?.(registry);
  const outbox = createReplyOutbox({ client, db: ctx.db, log: ctx.log, registry, recoverAfterSeconds: ctx.config.REPLY_RECOVERY_SECONDS });
  const router = createInteractionRouter({ registry, ctx, authorize: authorizeByAuthority, outbox });
  attachInteractionRouter(client, router);
  if (options.deploy) {
    await deployCommands({
      rest: client.rest,
      appId: options.deploy.appId,
      commands: registry,
      ...(options.deploy.guildId ? { guildId: options.deploy.guildId } : {}),
    });
  }
  // After login, a shard Discord closes for good (e.g. 4014 when privileged intents are switched off in the portal)
  // stays down: discord.js will not reconnect it, so say so loudly with what to change.
  client.on(Events.ShardDisconnect, ({ code }, shardId) => {
    const reason = fatalGatewayClose(code);
    if (reason) ctx.log.fatal({ shardId, code }, `Discord closed gateway shard ${shardId} for good: ${reason}`);
  });
  await loginDiscordClient(client);
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
  // After login: a replay answers through this client.
  outbox.start((interaction) => router.replay(interaction));
  return {
    client,
    registry,
    router,
    outbox,
    stop: async () => {
      await outbox.stop();
      await client.destroy();
    },
  };
}
