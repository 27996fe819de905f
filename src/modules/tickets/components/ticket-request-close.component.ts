import { requestTicketClose } from '../tickets.actions';
import { ticketActionComponent } from '../tickets.actor';
import { A } from '../tickets.views';

export default ticketActionComponent(A.requestClose, (ctx, actor, id) => requestTicketClose(ctx, actor, id));
