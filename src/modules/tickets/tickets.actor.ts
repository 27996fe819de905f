import { MessageFlags, type Interaction, type Message, type ModalBuilder } from 'discord.js';
import type { AppContext } from '../../app-context';
import { interactionIdentity, isGuildStaff, type GuildMemberIdentity } from '../../discord/authorize';
import type { ComponentHandler, ComponentInteraction } from '../../discord/component';
import { UserError } from '../../errors';
import type { TicketOutcome } from './tickets.actions';
import { parseTicketId, type Ticket, type TicketActor, type TicketPolicy } from './tickets.service';

/**
 * Staff = guild staff of the guild the actor is in (Manage Server or that guild's staff role); the service lets them
 * act only on that guild's tickets. The bot-wide operator role gives no ticket powers.
 */
async function staffActor(ctx: AppContext, user: { id: string; username: string }, who: GuildMemberIdentity): Promise<TicketActor> {
  return { discordId: user.id, username: user.username, guildId: who.guildId, isStaff: await isGuildStaff(who, ctx) };
}

export function ticketActor(interaction: Interaction, ctx: AppContext): Promise<TicketActor> {
  return staffActor(ctx, interaction.user, interactionIdentity(interaction));
}

/** `ticketActor` for someone writing in a thread: the same rules, from the message's author and member. */
export function messageTicketActor(message: Message, ctx: AppContext): Promise<TicketActor> {
  return staffActor(ctx, message.author, {
    userId: message.author.id,
    guildId: message.guildId,
    permissions: message.member?.permissions,
    hasRole: (id) => message.member?.roles.cache.has(id) ?? false,
  });
}

/** The guild's ticket settings, read at the moment of use (a /setup change applies without a restart). */
export async function guildTicketPolicy(ctx: AppContext, guildId: string | null): Promise<TicketPolicy> {
  return (await ctx.services.guilds.settings(guildId)).tickets;
}

/** The ticket id from an explicit option, else the ticket whose thread this is. */
export async function resolveTicketId(ctx: AppContext, explicit: number | null, channelId: string | null): Promise<bigint> {
  if (explicit !== null) return BigInt(explicit);
  const ticket = channelId ? await ctx.services.tickets.findByThread(channelId) : undefined;
  if (!ticket) throw new UserError('TICKET_ID_REQUIRED', 'Run this inside a ticket thread, or pass the ticket `id`.');
  return ticket.id;
}

/**
 * A component (custom id `<action>:<ticket id>`) that runs one ticket action and answers with its reply text,
 * ephemerally. The actor is resolved before the deferral, as the subcommand does; `run` receives the interaction for
 * the values it carries (the selected priority, the modal's text).
 */
export function ticketActionComponent(
  action: string,
  run: (ctx: AppContext, actor: TicketActor, ticketId: bigint, interaction: ComponentInteraction) => Promise<TicketOutcome>,
): ComponentHandler {
  return {
    action,
    async execute(interaction, arg, ctx) {
      const actor = await ticketActor(interaction, ctx);
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      const { reply } = await run(ctx, actor, parseTicketId(arg), interaction);
      await interaction.editReply(reply);
    },
  };
}

/**
 * A button that opens a form about one ticket (custom id `<action>:<ticket id>`), once `check` agrees the form could
 * be submitted, so nobody types text that cannot be saved.
 */
export function ticketFormComponent(
  action: string,
  check: (ctx: AppContext, actor: TicketActor, ticketId: bigint) => Promise<Ticket>,
  form: (ticketId: bigint) => ModalBuilder,
): ComponentHandler {
  return {
    action,
    async execute(interaction, arg, ctx) {
      if (!interaction.isButton()) return;
      const ticket = await check(ctx, await ticketActor(interaction, ctx), parseTicketId(arg));
      await interaction.showModal(form(ticket.id));
    },
  };
}
