import { defineModule } from '../../app-module';
import { billingJobs } from './billing-jobs.job';
import { billingRolesDiscord } from './billing-roles.discord';
import { billingDiscordEffects } from './billing.discord';
import { billingAdminRoutes } from './billing.routes';

export default defineModule({
  name: 'billing',
  adminRoutes: [billingAdminRoutes],
  jobs: [...billingJobs],
  discord: (deps) => ({ billing: billingDiscordEffects(deps.client), billingRoles: billingRolesDiscord(deps) }),
});
