import { unclaimTicket } from '../tickets.actions';
import { ticketActionComponent } from '../tickets.actor';
import { A } from '../tickets.views';

export default ticketActionComponent(A.unclaim, (ctx, actor, id) => unclaimTicket(ctx, actor, id));
