import { setTicketPriority } from '../tickets.actions';
import { ticketActionComponent } from '../tickets.actor';
import { A } from '../tickets.views';

/** The priority select on the ticket card. */
export default ticketActionComponent(A.priority, (ctx, actor, id, interaction) =>
  setTicketPriority(ctx, actor, id, interaction.isStringSelectMenu() ? (interaction.values[0] ?? '') : ''),
);
