import type { ComponentHandler } from '../../../discord/component';
import { checkCanClose } from '../tickets.actions';
import { ticketActor } from '../tickets.actor';
import { parseTicketId } from '../tickets.service';
import { A, closeModal } from '../tickets.views';

/** "Close" button: asks for a reason. Staff may close any ticket, members their own. */
export default {
  action: A.close,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const ticket = await checkCanClose(ctx, await ticketActor(interaction, ctx), parseTicketId(arg));
    await interaction.showModal(closeModal(ticket.id));
  },
} satisfies ComponentHandler;
