import {
  Events,
  MessageFlags,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type Interaction,
  type Message,
  type PartialMessage,
  type RepliableInteraction,
} from 'discord.js';
import type { AppContext } from '../app-context';
import { UserError } from '../errors';
import type { Logger } from '../logger';
import type { Authority } from './command';
import { parseCustomId, type ComponentInteraction } from './component';
import { ERROR_MARK, formatInternalError, formatUserError, newErrorRef } from './error-reply';
import type { InteractionRegistry } from './interaction-registry';
import { explainRefusal } from './permissions';
import { INTERRUPTED_TEXT, type ReplyOutbox } from './reply-outbox';

/**
 * Decides whether the user behind an interaction holds an authority. The app passes `authorizeByAuthority`
 * (src/discord/authorize.ts); there is deliberately no default, so nothing can wire another rule.
 */
export type AuthorizeFn = (interaction: Interaction, authority: Authority, ctx: AppContext) => boolean | Promise<boolean>;

const REFUSAL: Record<Authority, string> = {
  operator: 'This is for bot operators only.',
  'guild-staff': "This needs Manage Server or this server's staff role.",
};

export interface InteractionRouterOptions {
  registry: InteractionRegistry;
  ctx: AppContext;
  /** Defaults to ctx.log. */
  log?: Logger;
  authorize: AuthorizeFn;
  now?: () => number;
  /** Where deferrals are written down so another replica can answer them if this process dies (src/discord/reply-outbox.ts). */
  outbox?: ReplyOutbox;
}

export interface InteractionRouter {
  readonly registry: InteractionRegistry;
  /** Never throws: every failure ends as an ephemeral message to the user and/or a log line. */
  handle(interaction: Interaction): Promise<void>;
  /**
   * Runs a command again on a rebuilt, already deferred interaction (the reply outbox's replay); resolves whether the
   * member got an answer.
   */
  replay(interaction: ChatInputCommandInteraction): Promise<boolean>;
  /** Runs every message handler; never throws: failures are logged with a reference id, nothing is shown. */
  handleMessage(message: Message): Promise<void>;
  /** Runs every message handler's `edited` or `deleted`; never throws, like handleMessage. */
  handleMessageChange(change: 'edited' | 'deleted', message: Message | PartialMessage): Promise<void>;
}

export function createInteractionRouter(options: InteractionRouterOptions): InteractionRouter {
  const { registry, ctx } = options;
  const log = (options.log ?? ctx.log).child({ component: 'interactions' });
  const { authorize } = options;
  const now = options.now ?? Date.now;
  const cooldowns = new Map<string, number>();

  async function checkAuthority(interaction: Interaction, authority: Authority | undefined): Promise<void> {
    if (!authority) return;
    if (!(await authorize(interaction, authority, ctx))) throw new UserError('FORBIDDEN', REFUSAL[authority]);
  }

  function checkCooldown(name: string, userId: string, seconds: number | undefined): void {
    if (!seconds) return;
    const key = `${name}:${userId}`;
    const t = now();
    const until = cooldowns.get(key);
    if (until !== undefined && until > t) {
      throw new UserError('COOLDOWN', `Slow down — you can use /${name} again in ${Math.ceil((until - t) / 1000)} s.`);
    }
    cooldowns.set(key, t + seconds * 1000);
    // Expired entries would otherwise accumulate for every user who ever ran a command.
    if (cooldowns.size > 10_000) for (const [k, v] of cooldowns) if (v <= t) cooldowns.delete(k);
  }

  async function runCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    const command = registry.commands.get(interaction.commandName);
    if (!command) throw new UserError('UNKNOWN_COMMAND', `/${interaction.commandName} is not available any more.`);
    if (command.guildOnly && !interaction.inGuild()) throw new UserError('GUILD_ONLY', `/${command.name} only works in a server.`);
    await checkAuthority(interaction, command.requires);
    checkCooldown(command.name, interaction.user.id, command.cooldownSeconds);
    await command.execute(interaction, ctx);
  }

  async function runAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    const command = registry.commands.get(interaction.commandName);
    try {
      if (!command?.autocomplete) {
        await interaction.respond([]);
        return;
      }
      await command.autocomplete(interaction, ctx);
    } catch (err) {
      // Autocomplete has no message to show an error in: log and offer nothing.
      if (!(err instanceof UserError)) log.error({ err, command: interaction.commandName }, 'autocomplete failed');
      if (!interaction.responded) await interaction.respond([]).catch(() => undefined);
    }
  }

  async function runComponent(interaction: ComponentInteraction): Promise<void> {
    const { action, arg } = parseCustomId(interaction.customId);
    const handler = registry.components.get(action);
    if (!handler) throw new UserError('UNKNOWN_COMPONENT', 'This button or form is no longer active.');
    await checkAuthority(interaction, handler.requires);
    await handler.execute(interaction, arg, ctx);
  }

  /**
   * Resolves whether the error reached the member. `replayed`: the reply outbox runs the command again for a process
   * that died after deferring, so the first run may have done the work; an unexpected failure now (the database
   * restarting, say) must not read as "not done, try again", which would have the member do it twice.
   */
  async function fail(interaction: RepliableInteraction, err: unknown, replayed: boolean): Promise<boolean> {
    let content: string;
    const refusal = explainRefusal(err, interaction.guild);
    if (refusal !== undefined) {
      // Not a bug: the server's settings stop the bot. The member and staff are told what to fix.
      log.warn({ err, interaction: describe(interaction) }, 'discord refused the bot');
      content = `${ERROR_MARK} ${refusal}`;
    } else if (err instanceof UserError) {
      log.debug({ code: err.code, interaction: describe(interaction) }, 'user error');
      content = formatUserError(err);
    } else {
      const ref = newErrorRef();
      log.error({ err, ref, replayed, interaction: describe(interaction) }, 'interaction failed');
      content = replayed ? INTERRUPTED_TEXT : formatInternalError(ref);
    }
    let shown = false;
    try {
      await sendError(interaction, content);
      shown = true;
    } catch (replyErr) {
      log.warn({ err: replyErr, interaction: describe(interaction) }, 'could not show the error to the user');
    }
    // After the member's answer, which has a deadline.
    if (refusal !== undefined) await tellStaff(interaction, refusal);
    return shown;
  }

  /** Runs the handler; resolves whether the member got an answer (the handler's own or the error). */
  async function dispatch(interaction: RepliableInteraction, replayed = false): Promise<boolean> {
    try {
      if (interaction.isChatInputCommand()) await runCommand(interaction);
      else if (interaction.isButton() || interaction.isAnySelectMenu() || interaction.isModalSubmit()) await runComponent(interaction);
      else throw new UserError('UNSUPPORTED', 'This kind of interaction is not supported.');
      return true;
    } catch (err) {
      return fail(interaction, err, replayed);
    }
  }

  /** Posts a refusal to the guild's log channel (when one is set); a failure there is logged only. */
  async function tellStaff(interaction: RepliableInteraction, refusal: string): Promise<void> {
    if (!interaction.guildId) return;
    try {
      const { logChannelId } = await ctx.services.guilds.settings(interaction.guildId);
      if (!logChannelId) return;
      const channel = await interaction.client.channels.fetch(logChannelId);
      if (!channel?.isSendable()) throw new Error(`log channel ${logChannelId} cannot take messages`);
      const what = interaction.isChatInputCommand() ? `/${interaction.commandName}` : 'a button or form';
      await channel.send({ content: `⚠️ <@${interaction.user.id}> used ${what} and it failed. ${refusal}`, allowedMentions: { parse: [] } });
    } catch (logErr) {
      log.warn({ err: logErr, guild: interaction.guildId }, 'could not tell staff in the log channel');
    }
  }

  async function runMessageHandler(name: string, execute: () => Promise<unknown>, message: Message | PartialMessage): Promise<void> {
    try {
      await execute();
    } catch (err) {
      if (err instanceof UserError) {
        log.debug({ code: err.code, handler: name, message: describeMessage(message) }, 'message handler declined');
        return;
      }
      log.error({ err, ref: newErrorRef(), handler: name, message: describeMessage(message) }, 'message handler failed');
    }
  }

  return {
    registry,
    async handleMessage(message) {
      // Independent handlers: one failing or slow must not hold back the others.
      await Promise.all([...registry.messageHandlers.values()].map((h) => runMessageHandler(h.name, () => h.execute(message, ctx), message)));
    },
    async handleMessageChange(change, message) {
      const handlers = [...registry.messageHandlers.values()];
      await Promise.all(handlers.map((h) => runMessageHandler(h.name, async () => h[change]?.(message, ctx), message)));
    },
    async handle(interaction) {
      if (interaction.isAutocomplete()) {
        await runAutocomplete(interaction);
        return;
      }
      if (!interaction.isRepliable()) return;
      const tracked = options.outbox?.track(interaction);
      const answered = await dispatch(interaction);
      await tracked?.finish(answered);
    },
    replay: (interaction) => dispatch(interaction, true),
  };
}

/**
 * A deferred command reply is replaced by the error (its visibility was fixed by the deferral); once something was
 * shown, or for a deferred component update, the error goes to a separate ephemeral follow-up so it never
 * overwrites the message the user clicked on.
 */
async function sendError(interaction: RepliableInteraction, content: string): Promise<void> {
  const editsOwnReply = interaction.isChatInputCommand() || (interaction.isModalSubmit() && !interaction.isFromMessage());
  if (interaction.deferred && !interaction.replied && editsOwnReply) {
    await interaction.editReply({ content, embeds: [], components: [], files: [] });
  } else if (interaction.deferred || interaction.replied) {
    await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
  } else {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral });
  }
}

function describe(interaction: Interaction): Record<string, unknown> {
  return {
    id: interaction.id,
    type: interaction.type,
    user: interaction.user.id,
    guild: interaction.guildId,
    ...(interaction.isChatInputCommand() ? { command: interaction.commandName, sub: interaction.options.getSubcommand(false) } : {}),
    ...('customId' in interaction ? { customId: interaction.customId } : {}),
  };
}

function describeMessage(message: Message | PartialMessage): Record<string, unknown> {
  return { id: message.id, channel: message.channelId, guild: message.guildId, author: message.author?.id };
}

const registries = new WeakMap<Client, InteractionRegistry>();

/** Routes the client's interactions and messages; also lets commands such as /help see what the client serves. */
export function attachInteractionRouter(client: Client, router: InteractionRouter): void {
  registries.set(client, router.registry);
  client.on(Events.InteractionCreate, (interaction) => void router.handle(interaction));
  client.on(Events.MessageCreate, (message) => void router.handleMessage(message));
  client.on(Events.MessageUpdate, (_old, message) => void router.handleMessageChange('edited', message));
  client.on(Events.MessageDelete, (message) => void router.handleMessageChange('deleted', message));
}

export function registryOf(client: Client): InteractionRegistry | undefined {
  return registries.get(client);
}
