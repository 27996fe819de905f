import { defineModule } from '../../app-module';
import webhookDelivery from './webhook-delivery.job';
import { webhookDiscordNotifier } from './webhooks.discord';
import { webhookAdminRoutes } from './webhooks.routes';

export default defineModule({
  name: 'webhooks',
  adminRoutes: [webhookAdminRoutes],
  jobs: [webhookDelivery],
  // The owner of an endpoint the bot disables (410, failing for days) is told by DM.
  discord: ({ client, log }) => ({ webhooks: webhookDiscordNotifier(client, log) }),
});
