import type { ComponentHandler } from '../../../discord/component';
import { UserError } from '../../../errors';
import { parseTicketId } from '../tickets.service';
import { A, closeModal, ticketActor } from '../tickets.discord';

/** "Close" button: asks for a reason. Staff may close any ticket, members their own. */
export default {
  action: A.close,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const actor = await ticketActor(interaction, ctx);
    const ticket = await ctx.services.tickets.get(parseTicketId(arg), actor);
    if (ticket.status === 'closed') throw new UserError('TICKET_CLOSED', `Ticket #${ticket.id} is already closed.`);
    await interaction.showModal(closeModal(ticket.id));
  },
} satisfies ComponentHandler;
