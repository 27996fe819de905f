import { defineModule } from '../../app-module';
import { billingJobs } from './billing-jobs.job';
import { billingRolesDiscord } from './billing-roles.discord';
import { invoicePaymentNotifier } from './billing-chain.discord';
import { billingAdminRoutes } from './billing.routes';
import { checkoutRoutes } from './checkout.routes';
import invoiceWatch from './invoice-watch';

export default defineModule({
  name: 'billing',
  routes: [checkoutRoutes],
  adminRoutes: [billingAdminRoutes],
  jobs: [...billingJobs, invoiceWatch],
  discord: (deps) => ({
    billingRoles: billingRolesDiscord(deps),
    billingPayments: invoicePaymentNotifier(deps.client, deps.log, deps.config),
  }),
});
