import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { parseTicketId } from '../tickets.service';
import { A, afterClose, ticketActor } from '../tickets.discord';

export default {
  action: A.closeSubmit,
  async execute(interaction, arg, ctx) {
    if (!interaction.isModalSubmit()) return;
    const actor = await ticketActor(interaction, ctx);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const ticket = await ctx.services.tickets.close(parseTicketId(arg), actor, interaction.fields.getTextInputValue('text'));
    await afterClose(interaction.client, ctx, ticket);
    await interaction.editReply(`🔒 Ticket #${ticket.id} closed; the thread is archived.`);
  },
} satisfies ComponentHandler;
