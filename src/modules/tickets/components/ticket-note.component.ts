import { checkCanNote } from '../tickets.actions';
import { ticketFormComponent } from '../tickets.actor';
import { A, noteModal } from '../tickets.views';

/** "Staff note" button: opens the note form (staff only, open tickets only). */
export default ticketFormComponent(A.note, checkCanNote, noteModal);
