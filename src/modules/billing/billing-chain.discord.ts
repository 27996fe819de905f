import type { Client } from 'discord.js';
import type { Config } from '../../config';
import { dmSender } from '../../discord/dm';
import type { Logger } from '../../logger';
import { Currencies } from '../ledger/currencies';
import { invoicePaymentText } from './billing-chain.views';
import type { InvoicePaymentNotifier } from './invoice-watch';

/** DMs the member what an on-chain payment did (the port the invoice-watch job takes as `notify`). */
export function invoicePaymentNotifier(client: Client, log: Logger, config: Pick<Config, 'LEDGER_TOKENS'>): InvoicePaymentNotifier {
  const currencies = Currencies.fromConfig(config);
  const dm = dmSender(client, log.child({ component: 'invoice-payment-notifier' }), 'an invoice payment notification');
  return (e) => dm(e.discordId, invoicePaymentText(currencies, e));
}
