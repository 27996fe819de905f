import { defineModule } from '../../app-module';
import ticketsAutoClose from './tickets-auto-close.job';
import ticketsUnfinished from './tickets-unfinished.job';
import { ticketDiscordEffects } from './tickets.discord';
import { ticketAdminRoutes } from './tickets.routes';

export default defineModule({
  name: 'tickets',
  adminRoutes: [ticketAdminRoutes],
  jobs: [ticketsAutoClose, ticketsUnfinished],
  discord: ({ client, log }) => ({ tickets: ticketDiscordEffects(client, log) }),
});
