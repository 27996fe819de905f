import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { parseTicketId } from '../tickets.service';
import { A, afterChange, postCloseRequest, ticketActor } from '../tickets.discord';

export default {
  action: A.requestClose,
  async execute(interaction, arg, ctx) {
    const actor = await ticketActor(interaction, ctx);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const ticket = await ctx.services.tickets.requestClose(parseTicketId(arg), actor);
    await afterChange(interaction.client, ticket, undefined);
    await postCloseRequest(interaction.client, ticket);
    await interaction.editReply(`⏳ Asked <@${ticket.discord_id}> to confirm closing ticket #${ticket.id}.`);
  },
} satisfies ComponentHandler;
