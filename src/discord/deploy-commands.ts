import { REST, Routes, type APIApplicationCommand } from 'discord.js';
import type { CommandJson } from './command';
import type { InteractionRegistry } from './interaction-registry';

export interface DeployCommandsOptions {
  rest: REST;
  appId: string;
  /** A guild deploy is instant; a global one can take a while to show up in real Discord. */
  guildId?: string;
  commands: InteractionRegistry | CommandJson[];
}

/** Bulk-overwrites the application's commands (global or one guild) with exactly these. */
export async function deployCommands(options: DeployCommandsOptions): Promise<APIApplicationCommand[]> {
  const body = Array.isArray(options.commands) ? options.commands : options.commands.commandsJson();
  const route = options.guildId
    ? Routes.applicationGuildCommands(options.appId, options.guildId)
    : Routes.applicationCommands(options.appId);
  return (await options.rest.put(route, { body })) as APIApplicationCommand[];
}

/** A standalone REST client for scripts that deploy without a gateway connection. */
export function createRest(token: string, apiUrl?: string): REST {
  return new REST(apiUrl ? { api: apiUrl } : {}).setToken(token);
}
