import { defineModule } from '../../app-module';
import { invoicePaymentNotifier } from './billing-chain.discord';
import invoiceWatch from './invoice-watch';

export default defineModule({
  name: 'billing',
  jobs: [invoiceWatch],
  discord: ({ client, log, config }) => ({ billingPayments: invoicePaymentNotifier(client, log, config) }),
});
