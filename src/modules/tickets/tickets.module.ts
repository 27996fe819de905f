import { defineModule } from '../../app-module';
import ticketsAutoClose from './tickets-auto-close.job';
import { ticketDiscordEffects } from './tickets.discord';
import { ticketAdminRoutes } from './tickets.routes';

export default defineModule({
  name: 'tickets',
  adminRoutes: [ticketAdminRoutes],
  jobs: [ticketsAutoClose],
  discord: ({ client, log }) => ({ tickets: ticketDiscordEffects(client, log) }),
});
