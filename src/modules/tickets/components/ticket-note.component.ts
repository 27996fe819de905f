import type { ComponentHandler } from '../../../discord/component';
import { checkCanNote } from '../tickets.actions';
import { ticketActor } from '../tickets.actor';
import { parseTicketId } from '../tickets.service';
import { A, noteModal } from '../tickets.views';

/** "Staff note" button: opens the note form once the note could be saved. */
export default {
  action: A.note,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const ticket = await checkCanNote(ctx, await ticketActor(interaction, ctx), parseTicketId(arg));
    await interaction.showModal(noteModal(ticket.id));
  },
} satisfies ComponentHandler;
