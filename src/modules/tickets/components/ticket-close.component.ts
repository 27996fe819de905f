import { checkCanClose } from '../tickets.actions';
import { ticketFormComponent } from '../tickets.actor';
import { A, closeModal } from '../tickets.views';

/** "Close" button: asks for a reason. Staff may close any ticket, members their own. */
export default ticketFormComponent(A.close, checkCanClose, closeModal);
