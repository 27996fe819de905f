import type { Client } from 'discord.js';
import type { AppContext } from '../app-context';
import { startDiscordEmulator, type DiscordEmulator, type DiscordEmulatorOptions } from '../emulators/discord/discord-emulator';
import { buildRegistry } from './command-loader';
import { deployCommands } from './deploy-commands';
import { createDiscordClient, loginDiscordClient, type DiscordClientOptions } from './discord-client';
import type { InteractionRegistry } from './interaction-registry';
import { attachInteractionRouter, createInteractionRouter, type AuthorizeFn, type InteractionRouter } from './interaction-router';

export interface BotHarness {
  emu: DiscordEmulator;
  client: Client;
  registry: InteractionRegistry;
  router: InteractionRouter;
  close(): Promise<void>;
}

export interface BotHarnessOptions {
  ctx: AppContext;
  /** Defaults to everything under commands/ plus all *.component.ts. */
  registry?: InteractionRegistry;
  authorize?: AuthorizeFn;
  emulator?: DiscordEmulatorOptions;
  /** Reuse a running emulator instead of starting one (it is then not closed by close()). */
  emu?: DiscordEmulator;
  rest?: DiscordClientOptions['rest'];
  /** Default 'global' (instant on the emulator, and usable in DMs); 'guild' deploys to the emulator's guild. */
  deploy?: 'global' | 'guild';
}

/**
 * The real bot stack against the loopback Discord: emulator, discord.js client, router, commands deployed to the
 * emulator's guild, logged in and ready. Used by e2e tests, the sandbox and benchmarks.
 */
export async function startBotHarness(options: BotHarnessOptions): Promise<BotHarness> {
  const ownsEmulator = !options.emu;
  const emu = options.emu ?? (await startDiscordEmulator(options.emulator));
  const registry = options.registry ?? (await buildRegistry());
  const client = createDiscordClient({ token: emu.token, apiUrl: emu.apiUrl, ...(options.rest ? { rest: options.rest } : {}) });
  const router = createInteractionRouter({ registry, ctx: options.ctx, ...(options.authorize ? { authorize: options.authorize } : {}) });
  attachInteractionRouter(client, router);
  try {
    const guildId = options.deploy === 'guild' ? emu.guild.id : undefined;
    await deployCommands({ rest: client.rest, appId: emu.appId, commands: registry, ...(guildId ? { guildId } : {}) });
    await loginDiscordClient(client);
  } catch (err) {
    await client.destroy();
    if (ownsEmulator) await emu.close();
    throw err;
  }
  return {
    emu,
    client,
    registry,
    router,
    async close() {
      await client.destroy();
      if (ownsEmulator) await emu.close();
    },
  };
}
