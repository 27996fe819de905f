import { defineModule } from '../../app-module';
import { invoicePaymentNotifier } from './billing-chain.discord';
import { billingDiscordEffects } from './billing.discord';
import { billingAdminRoutes } from './billing.routes';
import { checkoutRoutes } from './checkout.routes';
import invoiceWatch from './invoice-watch';

export default defineModule({
  name: 'billing',
  routes: [checkoutRoutes],
  adminRoutes: [billingAdminRoutes],
  jobs: [invoiceWatch],
  discord: ({ client, log, config }) => ({
    billing: billingDiscordEffects(client),
    billingPayments: invoicePaymentNotifier(client, log, config),
  }),
});
