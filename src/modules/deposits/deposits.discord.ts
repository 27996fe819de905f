import type { Client } from 'discord.js';
import type { Config } from '../../config';
import { dmSender } from '../../discord/dm';
import type { Logger } from '../../logger';
import { Currencies } from '../ledger/currencies';
import type { DepositNotifier } from './deposits.service';

/** DMs the member that their deposit was credited (the port DepositsService takes as `notify`). */
export function depositDiscordNotifier(client: Client, log: Logger, config: Pick<Config, 'LEDGER_TOKENS'>): DepositNotifier {
  const currencies = Currencies.fromConfig(config);
  const dm = dmSender(client, log.child({ component: 'deposit-notifier' }), 'a deposit notification');
  return async (e) => {
    const received = currencies.format(e.received, e.currency.code);
    const note = e.received === e.expected ? '' : ` (you asked for ${currencies.format(e.expected, e.currency.code)}; the amount that arrived is what counts)`;
    await dm(e.discordId, `💰 Deposit #${e.depositId} received: ${received} credited to your balance${note}. Transaction \`${e.signature}\`.`);
  };
}
