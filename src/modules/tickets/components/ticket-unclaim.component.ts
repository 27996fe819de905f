import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { parseTicketId } from '../tickets.service';
import { A, afterChange, ticketActor } from '../tickets.discord';

export default {
  action: A.unclaim,
  async execute(interaction, arg, ctx) {
    const actor = await ticketActor(interaction, ctx);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const ticket = await ctx.services.tickets.unclaim(parseTicketId(arg), actor);
    await afterChange(interaction.client, ticket, '↩️ This ticket is back in the support queue.');
    await interaction.editReply(`↩️ Ticket #${ticket.id} unclaimed.`);
  },
} satisfies ComponentHandler;
