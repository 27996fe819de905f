import { checkCanGiveFeedback } from '../tickets.actions';
import { ticketFormComponent } from '../tickets.actor';
import { A, feedbackModal } from '../tickets.views';

/** "Add feedback" under the rating (close DM): opens the optional feedback form. */
export default ticketFormComponent(A.feedback, checkCanGiveFeedback, feedbackModal);
