import { defineModule } from '../../app-module';
import { billingJobs } from './billing-jobs.job';
import { billingDiscordEffects, billingRolesDiscord } from './billing-roles.discord';

export default defineModule({
  name: 'billing',
  jobs: [...billingJobs],
  discord: (deps) => {
    const billingRoles = billingRolesDiscord(deps);
    return { billingRoles, billing: billingDiscordEffects(billingRoles) };
  },
});
