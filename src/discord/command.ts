import type {
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { AppContext } from '../app-context';

/**
 * Authority a command or component can require (see src/discord/authorize.ts): `operator` = bot-wide, from the
 * database role only; `guild-staff` = Manage Server or the guild's staff role, in the guild of the interaction.
 */
export type Authority = 'operator' | 'guild-staff';

export type CommandJson = RESTPostAPIChatInputApplicationCommandsJSONBody;

/** A discord.js SlashCommandBuilder (any of its narrowed variants) or its JSON. */
export type CommandData = CommandJson | { toJSON(): CommandJson };

/**
 * What a file under `commands/<group>/` default-exports:
 * `export default { data: new SlashCommandBuilder()…, execute } satisfies Command;`
 */
export interface Command {
  data: CommandData;
  execute(interaction: ChatInputCommandInteraction, ctx: AppContext): Promise<unknown>;
  autocomplete?(interaction: AutocompleteInteraction, ctx: AppContext): Promise<unknown>;
  /** Reject use in DMs with a UserError. */
  guildOnly?: boolean;
  /** Per-user cooldown for this command. */
  cooldownSeconds?: number;
  requires?: Authority;
  /**
   * Running `execute` again for the same interaction has the same effect (none the second time) and gives the same
   * answer, because everything it changes is keyed by the interaction id. A deferred command marked so is run again
   * by the reply outbox when its process died before answering; any other is told it was interrupted.
   */
  replayable?: boolean;
}

export interface LoadedCommand extends Command {
  name: string;
  /** Folder name under commands/ ("general", "wallet"…); used by /help. */
  group: string;
  json: CommandJson;
  /** Source file, when loaded from disk. */
  file?: string;
}

export function commandJson(data: CommandData): CommandJson {
  return 'toJSON' in data && typeof data.toJSON === 'function' ? data.toJSON() : (data as CommandJson);
}
