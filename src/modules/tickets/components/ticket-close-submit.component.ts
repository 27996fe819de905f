import { closeTicket } from '../tickets.actions';
import { ticketActionComponent } from '../tickets.actor';
import { A } from '../tickets.views';

/** The close form's reason (optional). */
export default ticketActionComponent(A.closeSubmit, (ctx, actor, id, interaction) =>
  closeTicket(ctx, actor, id, interaction.isModalSubmit() ? interaction.fields.getTextInputValue('text') : undefined),
);
