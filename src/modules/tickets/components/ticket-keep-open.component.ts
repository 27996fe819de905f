import type { ComponentHandler } from '../../../discord/component';
import { ticketActor } from '../tickets.actor';
import { parseTicketId } from '../tickets.service';
import { A } from '../tickets.views';

/** The member declines a close request: the ticket goes back to the queue (claimed or open). */
export default {
  action: A.keepOpen,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const actor = await ticketActor(interaction, ctx);
    const ticket = await ctx.services.tickets.answerCloseRequest(parseTicketId(arg), actor, false);
    await interaction.update({ content: `↩️ <@${actor.discordId}> still needs help — the ticket stays open.`, components: [] });
    await ctx.effects.tickets?.changed(ticket);
  },
} satisfies ComponentHandler;
