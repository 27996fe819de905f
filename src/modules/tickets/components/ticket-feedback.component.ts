import type { ComponentHandler } from '../../../discord/component';
import { UserError } from '../../../errors';
import { parseTicketId } from '../tickets.service';
import { ticketActor } from '../tickets.actor';
import { A, feedbackModal } from '../tickets.views';

export default {
  action: A.feedback,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const actor = await ticketActor(interaction, ctx);
    const ticket = await ctx.services.tickets.get(parseTicketId(arg), actor);
    if (ticket.discord_id !== actor.discordId) throw new UserError('TICKET_FORBIDDEN', `Only the member who opened ticket #${ticket.id} can leave feedback on it.`);
    if (ticket.feedback !== null) throw new UserError('TICKET_ALREADY_RATED', `You already left feedback on ticket #${ticket.id}.`);
    await interaction.showModal(feedbackModal(ticket.id));
  },
} satisfies ComponentHandler;
