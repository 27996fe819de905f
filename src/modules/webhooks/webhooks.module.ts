import { defineModule } from '../../app-module';
import webhookDelivery from './webhook-delivery.job';
import { webhookAdminRoutes } from './webhooks.routes';

export default defineModule({
  name: 'webhooks',
  adminRoutes: [webhookAdminRoutes],
  jobs: [webhookDelivery],
});
