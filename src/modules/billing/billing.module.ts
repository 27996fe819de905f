import { defineModule } from '../../app-module';
import { billingDiscordEffects } from './billing.discord';
import { billingAdminRoutes } from './billing.routes';

export default defineModule({
  name: 'billing',
  adminRoutes: [billingAdminRoutes],
  discord: ({ client }) => ({ billing: billingDiscordEffects(client) }),
});
