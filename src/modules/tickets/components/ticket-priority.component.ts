import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { parseTicketId } from '../tickets.service';
import { A, afterChange, ticketActor } from '../tickets.discord';

export default {
  action: A.priority,
  async execute(interaction, arg, ctx) {
    if (!interaction.isStringSelectMenu()) return;
    const actor = await ticketActor(interaction, ctx);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const ticket = await ctx.services.tickets.setPriority(parseTicketId(arg), actor, interaction.values[0] ?? '');
    await afterChange(interaction.client, ticket, `Priority set to **${ticket.priority}**.`);
    await interaction.editReply(`✅ Ticket #${ticket.id} priority is now ${ticket.priority}.`);
  },
} satisfies ComponentHandler;
