import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { parseTicketId } from '../tickets.service';
import { A, afterChange, ticketActor } from '../tickets.discord';

export default {
  action: A.claim,
  async execute(interaction, arg, ctx) {
    const actor = await ticketActor(interaction, ctx);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const ticket = await ctx.services.tickets.claim(parseTicketId(arg), actor);
    await afterChange(interaction.client, ticket, `🙋 <@${actor.discordId}> claimed this ticket and will help you.`);
    await interaction.editReply(`🙋 You claimed ticket #${ticket.id}.`);
  },
} satisfies ComponentHandler;
