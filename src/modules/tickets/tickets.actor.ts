import { MessageFlags, type Interaction, type Message, type ModalBuilder, type PermissionsBitField } from 'discord.js';
import type { AppContext } from '../../app-context';
import { holdsStaffRole } from '../../discord/authorize';
import type { ComponentHandler, ComponentInteraction } from '../../discord/component';
import { UserError } from '../../errors';
import type { TicketOutcome } from './tickets.actions';
import { parseTicketId, type Ticket, type TicketActor } from './tickets.service';

/**
 * Staff = whoever the router treats as SUPPORT (users.role SUPPORT/ADMIN, or Manage Messages/Server in Discord),
 * or a holder of the configured Discord staff role in this guild.
 */
async function staffActor(
  ctx: AppContext,
  user: { id: string; username: string },
  permissions: Readonly<PermissionsBitField> | null | undefined,
  holdsRole: (roleId: string) => boolean,
): Promise<TicketActor> {
  const staffRole = ctx.config.TICKETS_STAFF_ROLE_ID;
  const isStaff =
    (await holdsStaffRole({ userId: user.id, permissions }, 'SUPPORT', ctx)) || (staffRole !== undefined && holdsRole(staffRole));
  return { discordId: user.id, username: user.username, isStaff };
}

export function ticketActor(interaction: Interaction, ctx: AppContext): Promise<TicketActor> {
  const roles = interaction.member?.roles;
  return staffActor(ctx, interaction.user, interaction.memberPermissions, (id) =>
    roles ? (Array.isArray(roles) ? roles.includes(id) : roles.cache.has(id)) : false,
  );
}

/** `ticketActor` for someone writing in a thread: the same rules, from the message's author and member. */
export function messageTicketActor(message: Message, ctx: AppContext): Promise<TicketActor> {
  return staffActor(ctx, message.author, message.member?.permissions, (id) => message.member?.roles.cache.has(id) ?? false);
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
