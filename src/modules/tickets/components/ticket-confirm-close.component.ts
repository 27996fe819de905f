import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { ticketClosed } from '../tickets.actions';
import { ticketActor } from '../tickets.actor';
import { parseTicketId } from '../tickets.service';
import { A } from '../tickets.views';

/** The member confirms a staff close request. */
export default {
  action: A.confirmClose,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const actor = await ticketActor(interaction, ctx);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const ticket = await ctx.services.tickets.answerCloseRequest(parseTicketId(arg), actor, true);
    // Before archiving: an archived thread's messages can no longer be edited.
    await interaction.message.edit({ content: `${interaction.message.content}\n✅ Confirmed by <@${actor.discordId}>.`, components: [] });
    await ticketClosed(ctx, ticket);
    await interaction.editReply(`🔒 Ticket #${ticket.id} closed. Thanks! Check your DMs for the transcript.`);
  },
} satisfies ComponentHandler;
