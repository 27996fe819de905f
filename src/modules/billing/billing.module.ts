import { defineModule } from '../../app-module';
import { billingJobs } from './billing-jobs.job';
import { billingRolesDiscord } from './billing-roles.discord';

export default defineModule({
  name: 'billing',
  jobs: [...billingJobs],
  discord: (deps) => ({ billingRoles: billingRolesDiscord(deps) }),
});
