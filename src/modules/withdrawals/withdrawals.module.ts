import { defineModule } from '../../app-module';
import withdrawalProcessor from './withdrawal-processor.job';
import { withdrawalDiscordNotifier } from './withdrawals.discord';
import { withdrawalAdminRoutes } from './withdrawals.routes';

export default defineModule({
  name: 'withdrawals',
  adminRoutes: [withdrawalAdminRoutes],
  jobs: [withdrawalProcessor],
  discord: ({ client, log, config }) => ({ withdrawals: withdrawalDiscordNotifier(client, log, config) }),
});
