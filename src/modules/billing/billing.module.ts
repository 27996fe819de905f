import { defineModule } from '../../app-module';
import { invoicePaymentNotifier } from './billing-chain.discord';
import { checkoutRoutes } from './checkout.routes';
import invoiceWatch from './invoice-watch';

export default defineModule({
  name: 'billing',
  routes: [checkoutRoutes],
  jobs: [invoiceWatch],
  discord: ({ client, log, config }) => ({ billingPayments: invoicePaymentNotifier(client, log, config) }),
});
