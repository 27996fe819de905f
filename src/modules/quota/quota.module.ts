import { defineModule } from '../../app-module';
import quotaReconcile from './quota-reconcile.job';
import quotaRollover from './quota-rollover.job';
import { partnerApiRoutes } from './quota.api';
import { quotaAdminRoutes } from './quota.routes';

export default defineModule({
  name: 'quota',
  routes: [partnerApiRoutes],
  adminRoutes: [quotaAdminRoutes],
  jobs: [quotaRollover, quotaReconcile],
});
