import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { parseTicketId } from '../tickets.service';
import { ticketActor } from '../tickets.actor';
import { A } from '../tickets.views';

export default {
  action: A.feedbackSubmit,
  async execute(interaction, arg, ctx) {
    if (!interaction.isModalSubmit()) return;
    const text = interaction.fields.getTextInputValue('text');
    // The field is optional: an empty submit just means "no comment".
    if (!text.trim()) {
      await interaction.reply({ content: 'No feedback added — thanks for the rating!', flags: MessageFlags.Ephemeral });
      return;
    }
    const actor = await ticketActor(interaction, ctx);
    const ticket = await ctx.services.tickets.feedback(parseTicketId(arg), actor, text);
    await interaction.reply({ content: `🙏 Thanks — your feedback on ticket #${ticket.id} was saved.`, flags: MessageFlags.Ephemeral });
  },
} satisfies ComponentHandler;
