import type { ComponentHandler } from '../../../discord/component';
import { UserError } from '../../../errors';
import { parseTicketId } from '../tickets.service';
import { ticketActor } from '../tickets.actor';
import { A, feedbackRow } from '../tickets.views';

/** Rating buttons (arg `<ticket>:<1-5>`) on the close DM; then offers the optional feedback form. */
export default {
  action: A.rate,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const [id = '', stars = ''] = arg.split(':');
    if (!/^[1-5]$/.test(stars)) throw new UserError('TICKET_BAD_RATING', 'A rating is a whole number from 1 to 5.');
    const actor = await ticketActor(interaction, ctx);
    const ticket = await ctx.services.tickets.rate(parseTicketId(id), actor, Number(stars));
    await interaction.update({
      content: `Thanks for rating ticket #${ticket.id} ${'⭐'.repeat(ticket.rating ?? 0)} (${ticket.rating}/5). Want to tell us more?`,
      components: [feedbackRow(ticket)],
    });
  },
} satisfies ComponentHandler;
