import { claimTicket } from '../tickets.actions';
import { ticketActionComponent } from '../tickets.actor';
import { A } from '../tickets.views';

export default ticketActionComponent(A.claim, (ctx, actor, id) => claimTicket(ctx, actor, id));
