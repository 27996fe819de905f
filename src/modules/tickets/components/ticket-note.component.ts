import type { ComponentHandler } from '../../../discord/component';
import { UserError } from '../../../errors';
import { parseTicketId } from '../tickets.service';
import { A, noteModal, ticketActor } from '../tickets.discord';

/** "Staff note" button: checked before the form opens, so nobody types a note that cannot be saved. */
export default {
  action: A.note,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const actor = await ticketActor(interaction, ctx);
    if (!actor.isStaff) throw new UserError('TICKET_STAFF_ONLY', 'Only support staff can add staff notes.');
    const ticket = await ctx.services.tickets.get(parseTicketId(arg), actor);
    if (ticket.status === 'closed') throw new UserError('TICKET_CLOSED', `Ticket #${ticket.id} is closed and cannot be annotated.`);
    await interaction.showModal(noteModal(ticket.id));
  },
} satisfies ComponentHandler;
